import CVSegTensor

/// Layers, losses, optimizers and weight files on top of ``CVSegTensor``.
public enum NN {}
