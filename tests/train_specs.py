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


def tiny_classifier(hidden: int, *settings: str) -> str:
    """An MLP classifier on the 8x8 digits, no batch norm or dropout, with ``settings`` in its train section."""
    lines = "".join(f"        {s}\n" for s in settings)
    return f"""
block Net(x: [B, 1, 8, 8]) -> [B, 10] {{
    logits = x -> flatten() -> linear({hidden}) -> relu() -> linear(10)
    return logits
}}

model Tiny {{
    classifier net = Net()
    train {{
        data = digits()
        optimizer = adam(lr=1e-3)
        epochs = 1
{lines}    }}
}}
"""
