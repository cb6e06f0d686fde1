"""Hand-written PyTorch references for the models in specs/*.agq.

Each class here is written the way a person would write the model in plain
PyTorch (nn.Sequential, nn.Flatten, functional activations ...), independently
of the code agqc generates.  The architectures are exactly those of the specs,
and modules are registered in the same order as the spec's layers, so that
`copy_weights` can transfer a compiled module's state_dict into a reference by
position (names differ).

REFERENCES maps each spec stem to a constructor of the reference for the
spec's whole model; networks have the attribute names the spec's model gives
them (`.net`, `.enc`/`.dec`, `.G`/`.D`).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------
# dnn_classifier.agq: MLP 784 -> 512 -> 256 (bf16) -> 10
# ---------------------------------------------------------------------------

class MLP(nn.Module):
    """Fully connected classifier; the second hidden layer runs in bfloat16."""

    def __init__(self, drop: float = 0.2):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 512)
        self.fc2 = nn.Linear(512, 256, dtype=torch.bfloat16)
        self.fc3 = nn.Linear(256, 10)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        x = self.drop(F.relu(self.fc1(x.flatten(1))))
        x = self.drop(F.relu(self.fc2(x.to(torch.bfloat16))))
        return self.fc3(x.float())


class DNNClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = MLP()

    def forward(self, x):
        return self.net(x)


# ---------------------------------------------------------------------------
# cnn_classifier.agq: two conv blocks (32, 64 channels), then a linear head
# ---------------------------------------------------------------------------

def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """(conv3x3 -> BN -> ReLU) x 2, then 2x2 max pooling (halves H and W)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class ConvNet(nn.Module):
    def __init__(self, drop: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, 32),   # [B, 32, 14, 14]
            conv_block(32, 64),  # [B, 64, 7, 7]
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(drop),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class CNNClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = ConvNet()

    def forward(self, x):
        return self.net(x)


# ---------------------------------------------------------------------------
# autoencoder.agq: 784 -> 256 -> 64 -> 16 -> 64 -> 256 -> 784
# ---------------------------------------------------------------------------

AE_LATENT = 16


class AEEncoder(nn.Module):
    def __init__(self, latent: int = AE_LATENT):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, 256), nn.ReLU(),
            nn.Linear(256, 64), nn.ReLU(),
            nn.Linear(64, latent),
        )

    def forward(self, x):
        return self.layers(x)


class AEDecoder(nn.Module):
    def __init__(self, latent: int = AE_LATENT):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(latent, 64), nn.ReLU(),
            nn.Linear(64, 256), nn.ReLU(),
            nn.Linear(256, 28 * 28), nn.Sigmoid(),
            nn.Unflatten(1, (1, 28, 28)),
        )

    def forward(self, z):
        return self.layers(z)


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = AEEncoder()
        self.dec = AEDecoder()

    def forward(self, x):
        return self.dec(self.enc(x))


# ---------------------------------------------------------------------------
# vae.agq: Kingma & Welling 2013, 784 -> 400 -> (mu, logvar) 20 -> 400 -> 784
# ---------------------------------------------------------------------------

VAE_LATENT = 20


class VAEEncoder(nn.Module):
    def __init__(self, latent: int = VAE_LATENT):
        super().__init__()
        self.fc = nn.Linear(28 * 28, 400)
        self.fc_mu = nn.Linear(400, latent)
        self.fc_logvar = nn.Linear(400, latent)

    def forward(self, x):
        h = F.relu(self.fc(x.flatten(1)))
        return self.fc_mu(h), self.fc_logvar(h)


class VAEDecoder(nn.Module):
    def __init__(self, latent: int = VAE_LATENT):
        super().__init__()
        self.fc1 = nn.Linear(latent, 400)
        self.fc2 = nn.Linear(400, 28 * 28)

    def forward(self, z):
        h = torch.sigmoid(self.fc2(F.relu(self.fc1(z))))
        return h.view(-1, 1, 28, 28)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = VAEEncoder()
        self.dec = VAEDecoder()

    @staticmethod
    def reparameterise(mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def forward(self, x):
        mu, logvar = self.enc(x)
        z = self.reparameterise(mu, logvar)
        return self.dec(z), mu, logvar


# ---------------------------------------------------------------------------
# gan.agq: MLP generator and discriminator (Goodfellow et al. 2014)
# ---------------------------------------------------------------------------

GAN_LATENT = 100


class GANGenerator(nn.Module):
    def __init__(self, latent: int = GAN_LATENT):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 512), nn.BatchNorm1d(512), nn.LeakyReLU(0.2),
            nn.Linear(512, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2),
            nn.Linear(1024, 28 * 28), nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z).view(z.size(0), 1, 28, 28)


class GANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, 512), nn.LeakyReLU(0.2),
            nn.Linear(512, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 1), nn.Sigmoid(),
        )

    def forward(self, image):
        return self.net(image)


class GAN(nn.Module):
    def __init__(self, latent: int = GAN_LATENT):
        super().__init__()
        self.latent = latent
        self.G = GANGenerator(latent)
        self.D = GANDiscriminator()

    def forward(self, real):
        z = torch.randn(real.size(0), self.latent, device=real.device)
        fake = self.G(z)
        return self.D(fake), self.D(real)


# ---------------------------------------------------------------------------
# cgan.agq: conditional GAN (Mirza & Osindero 2014)
# ---------------------------------------------------------------------------

CGAN_LATENT = 100
CLASSES = 10


class CGANGenerator(nn.Module):
    def __init__(self, latent: int = CGAN_LATENT, classes: int = CLASSES):
        super().__init__()
        self.label_emb = nn.Embedding(classes, latent)
        self.net = nn.Sequential(
            nn.Linear(latent, 128 * 7 * 7),
            nn.BatchNorm1d(128 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 64, kernel_size=4, stride=2, padding=1),  # 14x14
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 1, kernel_size=4, stride=2, padding=1),    # 28x28
            nn.Tanh(),
        )

    def forward(self, z, y):
        return self.net(z * self.label_emb(y))


class CGANDiscriminator(nn.Module):
    def __init__(self, classes: int = CLASSES):
        super().__init__()
        self.label_emb = nn.Embedding(classes, 28 * 28)
        self.net = nn.Sequential(
            nn.Linear(2 * 28 * 28, 512), nn.LeakyReLU(0.2),
            nn.Linear(512, 256), nn.Dropout(0.3), nn.LeakyReLU(0.2),
            nn.Linear(256, 1), nn.Sigmoid(),
        )

    def forward(self, image, y):
        h = torch.cat([image.flatten(1), self.label_emb(y)], dim=1)
        return self.net(h)


class CGAN(nn.Module):
    def __init__(self, latent: int = CGAN_LATENT):
        super().__init__()
        self.latent = latent
        self.G = CGANGenerator(latent)
        self.D = CGANDiscriminator()

    def forward(self, y, real):
        z = torch.randn(y.size(0), self.latent, device=y.device)
        fake = self.G(z, y)
        return self.D(fake, y), self.D(real, y)


# ---------------------------------------------------------------------------

REFERENCES: dict[str, Callable[[], nn.Module]] = {
    "dnn_classifier": DNNClassifier,
    "cnn_classifier": CNNClassifier,
    "autoencoder": Autoencoder,
    "vae": VAE,
    "gan": GAN,
    "cgan": CGAN,
}


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """Copy src's state_dict (parameters and buffers) into dst by position.

    Names may differ; the number of entries and each entry's shape must match.
    Values are converted to dst's dtype (load_state_dict does the same).
    """
    s_items = list(src.state_dict().items())
    d_items = list(dst.state_dict().items())
    if len(s_items) != len(d_items):
        raise ValueError(
            f"state_dict sizes differ: {len(s_items)} entries in "
            f"{type(src).__name__}, {len(d_items)} in {type(dst).__name__}")
    new_state = {}
    for i, ((s_name, s_val), (d_name, d_val)) in enumerate(zip(s_items, d_items)):
        if tuple(s_val.shape) != tuple(d_val.shape):
            raise ValueError(
                f"entry {i}: {s_name} has shape {tuple(s_val.shape)} but "
                f"{d_name} has shape {tuple(d_val.shape)}")
        new_state[d_name] = s_val.detach().clone().to(d_val.dtype)
    dst.load_state_dict(new_state)
