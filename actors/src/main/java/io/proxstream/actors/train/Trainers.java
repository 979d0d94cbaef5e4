package io.proxstream.actors.train;

import io.proxstream.protocol.config.SaeConfig;
import io.proxstream.protocol.config.TrainerConfig;
import io.proxstream.solvers.sae.Adam;
import io.proxstream.solvers.sae.AdamTrainer;
import io.proxstream.solvers.sae.IterativeDecoder;
import io.proxstream.solvers.sae.PamSgdTrainer;
import io.proxstream.solvers.sae.SaeModel;
import io.proxstream.solvers.sae.SaeSpec;
import io.proxstream.solvers.sae.SaeTrainer;
import io.proxstream.solvers.sae.Sparsifier;

/** Maps the protocol's config records onto the solvers' models and trainers. */
public final class Trainers {
    private Trainers() {
    }

    public static SaeSpec spec(SaeConfig sae, TrainerConfig trainer, int inputDim) {
        return new SaeSpec(inputDim, sae.latents(), Sparsifier.fromId(sae.sparsifier()), sae.k(), sae.l1(),
                trainer.algo().equals("adam-tied"));
    }

    public static SaeModel initialModel(SaeConfig sae, TrainerConfig trainer, int inputDim, long seed) {
        return SaeModel.initialise(spec(sae, trainer, inputDim),
                sae.init().equals("paper") ? SaeModel.Init.PAPER : SaeModel.Init.UNIT, seed);
    }

    public static Adam.Options adam(TrainerConfig t) {
        return new Adam.Options(t.lr(), t.beta1(), t.beta2(), t.eps(), t.weightDecay());
    }

    public static PamSgdTrainer.Options pam(TrainerConfig t) {
        return new PamSgdTrainer.Options(adam(t), t.sgdRepeats(), t.muEnc(), t.nuEnc(), t.clipNorm(), t.rho(), t.muDec(),
                t.order().equals("encoder-first") ? PamSgdTrainer.BlockOrder.ENCODER_FIRST : PamSgdTrainer.BlockOrder.DECODER_FIRST,
                t.solveEvery(), t.forgetting(), t.holdUnfired(), decoder(t.decoder()));
    }

    public static PamSgdTrainer.Decoder decoder(io.proxstream.protocol.config.DecoderConfig c) {
        return new PamSgdTrainer.Decoder(c.step(), new IterativeDecoder.Options(c.window(), c.iterations(), c.tolerance()));
    }

    /**
     * @param deadWindow samples without firing after which a latent is dead (the strong baseline's
     *                   AuxK works on dead latents)
     */
    public static SaeTrainer create(TrainerConfig t, SaeModel model, long deadWindow) {
        return switch (t.algo()) {
            case "pam" -> new PamSgdTrainer(model, pam(t));
            case "adam", "adam-tied" -> new AdamTrainer(model, adam(t));
            case "adam-strong" -> new AdamTrainer(model, adam(t), AdamTrainer.Recipe.strong(model.spec(), deadWindow));
            case "discard" -> new io.proxstream.solvers.sae.DiscardTrainer(model);
            default -> throw new IllegalArgumentException("unknown algorithm " + t.algo());
        };
    }
}
