/** Micrometer meters of training runs and streams, and the HTTP server exposing them. */
package io.proxstream.monitoring;
