/** Wire formats of the ingest endpoints (the TCP framing). */
package io.proxstream.protocol.ingest;
