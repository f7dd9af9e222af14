/// Noise protocol framework (25519, ChaChaPoly, BLAKE2b) on libsodium.
public enum Noise {}
