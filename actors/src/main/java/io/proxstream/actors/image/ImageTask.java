package io.proxstream.actors.image;

/**
 * An image entering the image stream.
 *
 * @param id    name used for output files and the CSV (unique within a run)
 * @param truth the image, {@code h × w} (the ground truth the data is simulated from); null if unreadable
 * @param h     rows
 * @param w     columns
 * @param index position in the stream (seeds its noise)
 * @param error why the image could not be read (null if it was); the stream rejects such tasks
 */
public record ImageTask(String id, float[] truth, int h, int w, long index, String error) {

    public ImageTask(String id, float[] truth, int h, int w, long index) {
        this(id, truth, h, w, index, null);
    }

    /** A source entry that could not be read. */
    public static ImageTask unreadable(String id, long index, String error) {
        return new ImageTask(id, null, 0, 0, index, error);
    }
}
