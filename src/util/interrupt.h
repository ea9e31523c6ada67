// Ctrl-C and SIGTERM: a flag set by the signal handler that long loops check to stop cleanly.
#pragma once

namespace arrowquant {

bool interrupt_requested();
// Forgets a request that has been acted on (chat: Ctrl-C ends the reply, not the conversation).
void clear_interrupt();
void install_interrupt_handler();

}  // namespace arrowquant
