package io.proxstream.actors.image;

/**
 * An image entering the image stream.
 *
 * @param id    name used for output files and the CSV (unique within a run)
 * @param truth the image, {@code h × w} (the ground truth the data is simulated from)
 * @param h     rows
 * @param w     columns
 * @param index position in the stream (seeds its noise)
 */
public record ImageTask(String id, float[] truth, int h, int w, long index) {
}
