"""``keras.initializers``."""
from ..nn.initializers import (  # noqa: F401
    Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, Initializer,
    LecunNormal, LecunUniform, Ones, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal,
    VarianceScaling, Zeros, compute_fans, constant, default_rng, get, glorot_normal,
    glorot_uniform, he_normal, he_uniform, identity, lecun_normal, lecun_uniform, ones,
    orthogonal, random_normal, random_uniform, serialize, set_seed, truncated_normal,
    variance_scaling, zeros,
)
