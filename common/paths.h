/* SPDX-License-Identifier: BSD-3-Clause */
/* Where an instance's files live: one spelling for every program. */

#ifndef SLUICE_COMMON_PATHS_H
#define SLUICE_COMMON_PATHS_H

/* An instance NAME keeps its run-time files in SL_RUN_DIR/NAME/: the CnC
 * region (cnc), the shared-memory attach socket (shm.sock) and the control
 * daemon's admin socket (control.sock). */
#define SL_RUN_DIR "/run/sluice"
#define SL_CONTROL_SOCKET "control.sock"

#endif
