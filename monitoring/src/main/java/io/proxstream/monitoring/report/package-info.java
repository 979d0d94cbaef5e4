/** Run reports: CSV tables written row by row and PNG line charts. */
package io.proxstream.monitoring.report;
