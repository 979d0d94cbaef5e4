/** Progress records and the listener interface through which solvers report without depending on monitoring. */
package io.proxstream.solvers.progress;
