/**
 * Typed, validated configuration records, one per component, serialisable with Jackson and
 * echoed into every run's output directory.
 */
package io.proxstream.protocol.config;
