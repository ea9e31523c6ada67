// Ctrl-C and SIGTERM: a flag set by the signal handler that long loops check to stop cleanly.
#pragma once

namespace arrowquant {

bool interrupt_requested();
void install_interrupt_handler();

}  // namespace arrowquant
