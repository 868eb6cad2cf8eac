"""One process of the data-parallel SCA test (tests/test_distributed.py runs
it under torchrun; not collected by pytest). Trains the small net with SCA on
real MNIST-5k digits and saves, for every structure update, the ranking
inputs this process used and the masks it chose."""

from __future__ import annotations

import sys

import torch


def run(out: str, world: bool) -> list[dict]:
    from sca_lava.data import encode, load_mnist5k
    from sca_lava.models import build_network
    from sca_lava.models.config import small_config
    from sca_lava.pruning import PruneConfig, SCAPruner
    from sca_lava.training import TrainConfig, Trainer
    from sca_lava.training.distributed import DistContext, init_distributed, shutdown

    class Recording(SCAPruner):
        """SCA that records what each update ranks (after the sync) and decides."""

        def update(self, epoch, *args, **kwargs):
            signal = {i: g.grad_acc / max(g.grad_batches, 1) for i, g in self.gates.items()}
            batches = {i: int(t.batches) for i, t in self.taps.items()}
            costs = {i: torch.cat([t.inputs, torch.tensor([t.active, t.host, t.samples], dtype=torch.float64)])
                     for i, t in self.cost_taps.items()}
            rec = super().update(epoch, *args, **kwargs)
            self.seen.append({"epoch": epoch, "batches": batches, "costs": costs,
                              "scores": {int(k): torch.tensor(v, dtype=torch.float64) for k, v in rec["scores"].items()},
                              "signal": signal, "masks": {i: torch.from_numpy(m) for i, m in self.masks().items()}})
            return rec

    torch.set_num_threads(1)
    dist = init_distributed("cpu") if world else DistContext()
    data = load_mnist5k(seed=0).subset(train=64, test=32)
    calib = encode(data.train_x[:32], small_config().num_steps)  # the dense reference activity
    pruner = Recording(PruneConfig(budget="synops=0.5", regrow=0.2, seed=0), reference=calib)
    pruner.seen = []
    trainer = Trainer(build_network(small_config(), seed=0),
                      TrainConfig(epochs=3, batch_size=16, seed=0, lr=3e-3, rate_floor=0.2), [pruner], dist=dist)
    trainer.fit(data, progress=False, log=None)
    torch.save({"rank": dist.rank, "world_size": dist.world_size, "updates": pruner.seen,
                "history": trainer.history}, out.replace("RANK", str(dist.rank)))
    shutdown()
    return pruner.seen


if __name__ == "__main__":
    run(sys.argv[1], world=True)
