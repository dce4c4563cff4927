/* SPDX-License-Identifier: BSD-3-Clause */
/* Durable group state file: save/load, injected persist faults, torn saves, damaged slots. */
#include "check.h"
int main(void) { return check_result("test_group_state"); }
