"""The losses of a training plan: one step of each objective on one batch.

Takes the plan's objective (a JSON-like dict, as ``TrainPlan.to_json`` writes it), the
model and a batch of fields; gives per-network losses and metrics.  Torch and the
standard library only: this file is copied verbatim into `agqc emit --train` scripts,
so what `agqc train` computes and what the emitted script computes are one text.
"""
import torch
import torch.nn.functional as F


def inputs_of(call, batch, generator, device):
    """The tensors one call of the model receives: batch fields, or noise drawn from ``generator``."""
    out = []
    n = next(iter(batch.values())).shape[0]
    for feed in call["inputs"]:
        if feed["field"] is None:
            out.append(torch.randn((n, *feed["shape"]), generator=generator).to(device))
        elif feed["dtype"] == "int" and len(feed["shape"]) == 1 and batch[feed["field"]].dim() == 2 \
                and batch[feed["field"]].shape[1] == feed["shape"][0] + 1:
            out.append(batch[feed["field"]][:, :-1])  # token windows: all but the last token go in
        else:
            out.append(batch[feed["field"]])
    return out


def run(nets, call, batch, generator, device):
    """Outputs of one call, always as a tuple; ``nets`` maps a network's name (None: the flow) to what runs it."""
    out = nets[call["network"]](*inputs_of(call, batch, generator, device))
    return out if isinstance(out, tuple) else (out,)


def output(objective, role):
    return dict(objective["outputs"])[role]


def predicting_losses(nets, objective, batch, generator, device):
    """Classification, next value, next token: a loss per side-by-side network, and accuracy."""
    params = dict(objective["choice"]["params"])
    kind = objective["kind"]
    target = batch[objective["target"]]
    indices = [i for role, i in objective["outputs"] if role == "prediction"]
    preds = [run(nets, call, batch, generator, device)[i] for call in objective["models"] for i in indices]
    total, metrics, correct, count = 0.0, {}, 0, 0
    for name, pred in zip(objective["names"], preds):
        if kind == "classification":
            loss = F.cross_entropy(pred.float(), target, label_smoothing=params["label_smoothing"])
            right, n = int((pred.argmax(1) == target).sum()), target.shape[0]
        elif kind == "next_token":
            logits = pred.float()
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target[:, 1:].reshape(-1))
            right, n = int((logits.argmax(-1) == target[:, 1:]).sum()), target[:, 1:].numel()
        else:
            loss = (F.l1_loss if params["loss"] == "l1" else F.mse_loss)(pred.float(), target)
            right, n = 0, 0
        total = total + loss
        correct, count = correct + right, count + n
        if len(preds) > 1:  # side by side: each network's own figures, to compare them
            metrics["loss_" + name] = float(loss.detach())
            if n:
                metrics["accuracy_" + name] = right / n
    if count:
        metrics["accuracy"] = correct / count
    return total, metrics


def reconstruction_losses(nets, objective, batch, generator, device, clean=None):
    """An autoencoder's reconstruction error; a VAE's adds beta * KL (both per example, summed over pixels).

    ``clean``: the batch before augmentation, whose images are the target (a denoising autoencoder).
    """
    params = dict(objective["choice"]["params"])
    outs = run(nets, objective["models"][0], batch, generator, device)
    recon = outs[output(objective, "reconstruction")].float()
    target = (batch if clean is None else clean)[objective["target"]]
    n = target.shape[0]
    if objective["kind"] == "vae":
        loss_name = params["reconstruction"]
        rec = (F.binary_cross_entropy(recon.clamp(0, 1), target, reduction="sum") if loss_name == "bce"
               else F.mse_loss(recon, target, reduction="sum")) / n
        mu = outs[output(objective, "mu")].float()
        logvar = outs[output(objective, "logvar")].float()
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
        return rec + params["beta"] * kl, {"reconstruction": float(rec.detach()), "kl": float(kl.detach())}
    if params["loss"] == "bce":
        return F.binary_cross_entropy(recon.clamp(0, 1), target), {}
    return F.mse_loss(recon, target), {}


def _noisy(images, std, generator):
    if std <= 0:
        return images
    return images + std * torch.randn(images.shape, generator=generator).to(images.device)


def discriminator_loss(nets, objective, batch, generator, device):
    """D's (or a critic's) loss on a real batch and a generated one; G's output is detached."""
    params = dict(objective["choice"]["params"])
    g_call, d_call = objective["generator"], objective["discriminator"]
    image_at = output(objective, "image")
    with torch.no_grad():  # D's step: no graph through G (and no gradient synchronisation for it)
        fake = run(nets, g_call, batch, generator, device)[0]
    d_inputs = inputs_of(d_call, batch, generator, device)
    real_inputs = list(d_inputs)
    real_inputs[image_at] = _noisy(d_inputs[image_at], params["instance_noise"], generator)
    fake_inputs = list(d_inputs)
    fake_inputs[image_at] = _noisy(fake, params["instance_noise"], generator)
    discriminator = nets[d_call["network"]]
    real_score = discriminator(*real_inputs).float().reshape(-1)
    fake_score = discriminator(*fake_inputs).float().reshape(-1)
    loss_name = params["loss"]
    if loss_name == "bce":
        bce = F.binary_cross_entropy if objective["probabilities"] else F.binary_cross_entropy_with_logits
        real_target = torch.full_like(real_score, params["real_label"])  # one-sided smoothing: real only
        loss = bce(real_score, real_target) + bce(fake_score, torch.zeros_like(fake_score))
    elif loss_name == "hinge":
        loss = F.relu(1 - real_score).mean() + F.relu(1 + fake_score).mean()
    else:
        loss = fake_score.mean() - real_score.mean()
        if torch.is_grad_enabled():  # evaluation reports the Wasserstein estimate alone
            loss = loss + params["gp"] * _gradient_penalty(discriminator, real_inputs, fake_inputs, image_at,
                                                           generator)
    return loss, {"d_real": float(real_score.detach().mean()), "d_fake": float(fake_score.detach().mean())}


def _gradient_penalty(discriminator, real_inputs, fake_inputs, image_at, generator):
    """WGAN-GP (Gulrajani et al. 2017): (|grad D(x_hat)| - 1)^2 on points between real and fake."""
    real, fake = real_inputs[image_at], fake_inputs[image_at]
    mix = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator).to(real.device)
    between = (mix * real + (1 - mix) * fake).requires_grad_(True)
    inputs = list(real_inputs)
    inputs[image_at] = between
    score = discriminator(*inputs).float().sum()
    grad, = torch.autograd.grad(score, between, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def generator_loss(nets, model, objective, batch, generator, device):
    """G's loss: make D score its output as real (non-saturating BCE), or raise the critic's score.

    D runs as the plain module (``model``'s attribute), not through ``nets``: this step trains G
    alone, so D's gradients are neither kept nor synchronised between processes.
    """
    params = dict(objective["choice"]["params"])
    g_call, d_call = objective["generator"], objective["discriminator"]
    image_at = output(objective, "image")
    fake = run(nets, g_call, batch, generator, device)[0]
    d_inputs = inputs_of(d_call, batch, generator, device)
    d_inputs[image_at] = _noisy(fake, params["instance_noise"], generator)
    score = getattr(model, d_call["network"])(*d_inputs).float().reshape(-1)
    if params["loss"] == "bce":
        bce = F.binary_cross_entropy if objective["probabilities"] else F.binary_cross_entropy_with_logits
        return bce(score, torch.ones_like(score)), {}
    return -score.mean(), {}
