"""Tiny specs with train sections, shared by the training tests (digits: seconds to train)."""


def tiny_cgan(disc_end: str = "") -> str:
    """A conditional GAN on the 8x8 digits, three steps; ``disc_end`` ends D (`" -> sigmoid()"`)."""
    return """
block Gen(z: [B, 8], y: int[B]) -> [B, 1, 8, 8] {
    h = (z * embedding(y, 10, 8)) -> linear(64) -> tanh() -> reshape(1, 8, 8)
    return h
}

block Disc(image: [B, 1, 8, 8], y: int[B]) -> [B, 1] {
    h = concat(image -> flatten(), y -> embedding(10, 8)) -> linear(1)DISC_END
    return h
}

model CGAN {
    generator G = Gen()
    discriminator D = Disc()

    train {
        data = digits() -> scale(-1, 1)
        optimizer = adam(lr=2e-4, beta1=0.5)
        steps = 3
    }
}
""".replace("DISC_END", disc_end)
