package io.proxstream.actors.experiments;

import io.proxstream.actors.image.ForwardModel;
import io.proxstream.actors.image.ImageTask;
import java.util.List;

/**
 * One reconstruction setting of an imaging experiment: a forward model with validation images
 * (to choose parameters on) and held-out test images (to report on). The two sets are disjoint.
 *
 * @param name  short name (directory, CSV column), e.g. {@code ct-sparse}
 * @param title one line for the report
 */
public record ImagingSetting(String name, String title, ForwardModel model, List<ImageTask> validation, List<ImageTask> test) {
    public ImagingSetting {
        if (validation.isEmpty() || test.isEmpty()) {
            throw new IllegalArgumentException("setting " + name + " needs validation and test images");
        }
        validation = List.copyOf(validation);
        test = List.copyOf(test);
    }

    public boolean isCt() {
        return model.problem().equals("ct");
    }
}
