"""The training loop: a model and its plan (``TrainPlan.to_json()``) -> trained weights and a history.

``Trainer(model, plan).run()`` trains every stage: data, augmentation, the objective's
steps (``objectives``), accumulation, clipping, regularisation, schedules, weight
averaging, evaluation on the test split, early stopping and the dead-neuron monitor.
Its whole state (weights, optimisers, averages, random generators, position) is
``state()`` / ``load_state()``: tensors plus JSON, so a checkpoint needs no pickle and a
resumed run ends on the same weights.  Torch and the standard library only: copied
into `agqc emit --train` scripts.
"""
import time

import torch

from . import data as datasets
from . import objectives, parts

HIGHER_IS_BETTER = {"accuracy"}


def load_split(plan, split, device):
    d = plan["data"]
    fields = datasets.load(d["dataset"]["name"], dict(d["dataset"]["params"]), split)
    for t in d["transforms"]:
        fields = datasets.transform(fields, t["name"], dict(t["params"]))
    return {k: v.to(device) for k, v in fields.items()}


def plain(model):
    """What runs each piece of the model in one process: the flow and each network as they are."""
    return {None: model, **dict(model.named_children())}


class Trainer:
    def __init__(self, model, plan, device="cpu", rank=0, world=1, wrap=None, generators=None):
        self.model, self.plan, self.device, self.rank, self.world = model, plan, device, rank, world
        self.wrap = wrap or (lambda trainer: plain(model))  # under DDP: the wrapped model or networks
        self.reduce = lambda sums: sums  # under DDP: the epoch's sums added up over the processes
        self.generators = generators or {}  # `generated(...)` augmentations: "spec|weights" -> labels -> images
        self.train_data = load_split(plan, "train", device)
        self.test_data = load_split(plan, "test", device)
        self.batch = plan["data"]["batch"]
        self.gen = torch.Generator().manual_seed(plan["seed"] * 7919 + rank)  # noise and augmentation
        self.history, self.best = [], None
        self.stage_index, self.epoch, self.batch_index, self.global_epoch = 0, 0, 0, 0
        self.sums, self.stopped, self.interrupted = {}, False, False
        self.names = {id(m): p for p, m in model.named_modules()}
        for selector, choice in plan["inits"]:
            parts.initialise(parts.select(model, selector), choice)
        self._setup_stage()

    # ---- stages -------------------------------------------------------------------
    @property
    def stage(self):
        return self.plan["stages"][self.stage_index]

    def _setup_stage(self):
        stage, model = self.stage, self.model
        for p in model.parameters():
            p.requires_grad_(True)
        self.frozen = [m for sel in stage["frozen"] for m in parts.select(model, sel)]
        for m in self.frozen:
            m.requires_grad_(False)
        self.params = {n: [p for p in getattr(model, n).parameters() if p.requires_grad] for n in stage["trained"]}
        self.opts = {n: parts.optimizer(self.params[n], c) for n, c in stage["optimizers"]}
        self.base_lr = {n: o.param_groups[0]["lr"] for n, o in self.opts.items()}
        self.schedules = dict(stage["schedules"])
        self.plateaus = {n: parts.Plateau(c["params"][0][1], dict(c["params"])["patience"],
                                          dict(c["params"])["metric"] in HIGHER_IS_BETTER)
                         for n, c in stage["schedules"] if c["name"] == "plateau"}
        self.averages = {n: parts.Average(getattr(model, n), decay) for n, decay in stage["ema"]}
        self.steps = {n: 0 for n in self.opts}
        self.micro = {}
        per_epoch = datasets.steps_per_epoch(len(next(iter(self.train_data.values()))), self.batch, self.world)
        self.total_steps = stage["steps"] or max(1, per_epoch * stage["epochs"] // stage["accumulate"])
        self.nets = self.wrap(self)
        self._set_lrs()

    def _set_lrs(self):
        for n, opt in self.opts.items():
            scale = self.plateaus[n].scale if n in self.plateaus else 1.0
            factor = parts.lr_factor(self.schedules.get(n), self.steps[n], self.total_steps, self.epoch, scale,
                                     self.base_lr[n])
            for group in opt.param_groups:
                group["lr"] = self.base_lr[n] * factor

    # ---- one step -----------------------------------------------------------------
    def update(self, nets, loss):
        """Backpropagate ``loss`` into ``nets`` only; step them every ``accumulate`` micro-batches."""
        nets = [n for n in nets if n in self.opts]
        if not nets:
            return
        key = tuple(nets)
        accumulate = self.stage["accumulate"]
        if self.micro.get(key, 0) % accumulate == 0:
            for n in nets:
                self.opts[n].zero_grad(set_to_none=True)
        for n, c in self.stage["regularizers"]:
            if n in nets:
                w = dict(c["params"])["weight"]
                loss = loss + w * sum((p.abs().sum() if c["name"] == "l1" else p.pow(2).sum())
                                      for p in self.params[n] if p.dim() > 1)
        torch.autograd.backward(loss / accumulate, inputs=[p for n in nets for p in self.params[n]])
        self.micro[key] = self.micro.get(key, 0) + 1
        if self.micro[key] % accumulate:
            return
        clips = dict(self.stage["clips"])
        for n in nets:
            clip = clips.get(n)
            if clip is not None:
                p = dict(clip["params"])
                if clip["name"] == "norm":
                    torch.nn.utils.clip_grad_norm_(self.params[n], p["max"], p["norm_type"])
                else:
                    torch.nn.utils.clip_grad_value_(self.params[n], p["max"])
            self.opts[n].step()
            self.steps[n] += 1
            if n in self.averages:
                self.averages[n].update()
        self._set_lrs()

    def train_batch(self, batch):
        """One batch of the stage's objective; its losses and metrics as floats."""
        objective = self.stage["objective"]
        kind = objective["kind"]
        clean = batch
        for a in self.stage["augment"]:
            if a["name"] == "generated":
                batch = self.mix_generated(batch, dict(a["params"]))
            else:
                batch = datasets.augment(batch, a["name"], dict(a["params"]), self.gen)
        if kind == "adversarial":
            g, d = objective["generator"]["network"], objective["discriminator"]["network"]
            d_loss, metrics = objectives.discriminator_loss(self.nets, objective, batch, self.gen, self.device)
            self.update([d], d_loss)
            out = {"d_loss": float(d_loss.detach()), **metrics}
            every = dict(objective["choice"]["params"])["d_steps"]
            if self.micro[(d,)] % every == 0 or d not in self.opts:
                g_loss, _ = objectives.generator_loss(self.nets, self.model, objective, batch, self.gen, self.device)
                self.update([g], g_loss)
                out["g_loss"] = float(g_loss.detach())
            return {"loss": out["d_loss"] + out.get("g_loss", 0.0), **out}
        if kind in ("reconstruction", "vae"):
            loss, metrics = objectives.reconstruction_losses(self.nets, objective, batch, self.gen, self.device,
                                                             clean)
        else:
            loss, metrics = objectives.predicting_losses(self.nets, objective, batch, self.gen, self.device)
        self.update(self.stage["trained"], loss)
        return {"loss": float(loss.detach()), **metrics}

    def mix_generated(self, batch, params):
        """Real plus generated data: the first ``fraction`` of the batch's images drawn by a trained
        conditional generator for the same labels, then transformed as the real images were."""
        draw = self.generators[params["spec"] + "|" + params["weights"]]
        images = datasets.image_fields(batch)[0]
        labels = next(k for k, v in batch.items() if not v.is_floating_point() and v.dim() == 1)
        k = int(round(params["fraction"] * batch[labels].shape[0]))
        fake = {images: draw(batch[labels][:k], self.gen)}
        for t in self.plan["data"]["transforms"]:
            fake = datasets.transform(fake, t["name"], dict(t["params"]))
        return {**batch, images: torch.cat([fake[images].to(batch[images].dtype), batch[images][k:]])}

    # ---- epochs -------------------------------------------------------------------
    def run(self, on_batch=None, on_epoch=None, should_stop=None):
        """Train to the end of the last stage (or until ``should_stop()``); gives the history."""
        while self.stage_index < len(self.plan["stages"]) and not self.interrupted:
            if self.stopped or self.epoch >= self.stage["epochs"] or self._out_of_steps():
                self._next_stage()
                continue
            self.train_epoch(on_batch, should_stop)
            if self.interrupted:
                break
            row = self.end_epoch()
            if on_epoch is not None:
                on_epoch(self, row)
        return self.history

    def _out_of_steps(self):
        limit = self.stage["steps"]
        return limit is not None and self.steps and max(self.steps.values()) >= limit

    def _next_stage(self):
        self.stage_index += 1
        self.epoch, self.batch_index, self.stopped, self.sums = 0, 0, False, {}
        if self.stage_index < len(self.plan["stages"]):
            self._setup_stage()

    def train_epoch(self, on_batch=None, should_stop=None):
        self.model.train()
        for m in self.frozen:
            m.eval()  # frozen batch norms keep their statistics too
        started = time.perf_counter()
        for i, batch in enumerate(datasets.batches(self.train_data, self.batch, shuffle=True, seed=self.plan["seed"],
                                                   epoch=self.global_epoch, rank=self.rank, world=self.world)):
            if i < self.batch_index:
                continue  # resumed mid-epoch: these batches are done
            if should_stop is not None and should_stop():
                self.interrupted = True
                return
            out = self.train_batch(batch)
            for k, v in out.items():
                self.sums[k] = self.sums.get(k, 0.0) + v
            self.sums["batches"] = self.sums.get("batches", 0.0) + 1
            self.sums["seconds"] = self.sums.get("seconds", 0.0) + time.perf_counter() - started
            started = time.perf_counter()
            self.batch_index = i + 1
            if on_batch is not None:
                on_batch(self, out)
            if self._out_of_steps():
                break

    def end_epoch(self):
        self.sums = self.reduce(self.sums)
        n = max(1.0, self.sums.get("batches", 1.0))
        row = {"stage": self.stage["name"], "epoch": self.global_epoch + 1,
               "steps": sum(self.steps.values()), "seconds": round(self.sums.get("seconds", 0.0), 3)}
        row.update({k: v / n for k, v in self.sums.items() if k not in ("batches", "seconds")})
        row.update({"val_" + k: v for k, v in self.evaluate().items()})
        row.update({"lr_" + n: o.param_groups[0]["lr"] for n, o in self.opts.items()})
        for m in self.stage["monitors"]:
            if m["name"] == "dead_neurons":
                row.update({"dead " + k: v for k, v in self.dead_neurons().items()})
        for n, p in self.plateaus.items():
            p.update(row.get(dict(self.schedules[n]["params"])["metric"], row["loss"]))
        self._early_stop(row)
        self.history.append(row)
        self.epoch += 1
        self.global_epoch += 1
        self.batch_index, self.sums = 0, {}
        return row

    def _early_stop(self, row):
        rule = self.stage["early_stop"]
        if rule is None:
            return
        name, p = rule["name"], dict(rule["params"])
        value = row.get(name if name == "loss" else "val_" + name.removeprefix("val_"))
        if value is None:
            return
        better = HIGHER_IS_BETTER.__contains__(name)
        best, bad = self.best if self.best is not None else (None, 0)
        if best is None or (value > best + p["min_delta"] if better else value < best - p["min_delta"]):
            self.best = (value, 0)
        else:
            self.best = (best, bad + 1)
            self.stopped = self.best[1] >= p["patience"]

    @torch.no_grad()
    def evaluate(self, data=None):
        """Mean losses and metrics over the test split, with averaged weights where the plan keeps them."""
        data = self.test_data if data is None else data
        self.model.eval()
        for a in self.averages.values():
            a.swap()
        try:
            sums, count = {}, 0
            for batch in datasets.batches(data, self.batch, shuffle=False, seed=0, epoch=0, drop_last=False):
                out = self._eval_batch(batch)
                size = next(iter(batch.values())).shape[0]
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + v * size
                count += size
        finally:
            for a in self.averages.values():
                a.swap()
        return {k: v / max(1, count) for k, v in sums.items()}

    def _eval_batch(self, batch):
        objective = self.stage["objective"]
        model = plain(self.model)
        if objective["kind"] == "adversarial":
            d_loss, metrics = objectives.discriminator_loss(model, objective, batch, self.gen, self.device)
            g_loss, _ = objectives.generator_loss(model, self.model, objective, batch, self.gen, self.device)
            return {"loss": float(d_loss + g_loss), "d_loss": float(d_loss), "g_loss": float(g_loss), **metrics}
        if objective["kind"] in ("reconstruction", "vae"):
            loss, metrics = objectives.reconstruction_losses(model, objective, batch, self.gen, self.device)
        else:
            loss, metrics = objectives.predicting_losses(model, objective, batch, self.gen, self.device)
        return {"loss": float(loss.detach()), **metrics}

    @torch.no_grad()
    def dead_neurons(self):
        """Per ReLU call site, the fraction of units no training example of this epoch activated."""
        self.model.eval()
        monitor = parts.DeadNeurons(self.names)
        with monitor:
            for batch in datasets.batches(self.train_data, self.batch, shuffle=False, seed=0, epoch=0,
                                          drop_last=False):
                self._eval_batch(batch)
        return monitor.dead_fractions()
