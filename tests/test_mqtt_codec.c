/* SPDX-License-Identifier: BSD-3-Clause */
#include "check.h"
int main(void) { return check_result("test_mqtt_codec"); }
