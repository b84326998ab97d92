/** Where `deeprnn train` writes and `deeprnn predict` reads by default (relative to the working directory). */
export const DEFAULT_CHECKPOINT = 'checkpoints/deeprnn.safetensors';
