"""``sca-lava demo``: the whole pipeline on the shipped MNIST digits
(:func:`sca_lava.workflow.run_demo`; fields of OUT/summary.json: docs/summary.md)."""

from __future__ import annotations

from sca_lava.commands._common import add_command, add_device_arg, positive_int, seed_int


def register(sub) -> None:
    from sca_lava.models.config import ARCHS, DEFAULT_ARCH

    p = add_command(sub, "demo", run, help="run the whole pipeline end to end on MNIST-5k",
                    description="Dense training, SCA pruning to a Loihi 2 energy budget, surgery, netx "
                    "export, Lava runs, deployed accuracy and Loihi budgets; writes OUT/summary.json.")
    p.add_argument("--out", default="runs/demo", help="output folder")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=list(ARCHS),
                   help=f"network (default {DEFAULT_ARCH}: conv-dominated VGG-style net)")
    p.add_argument("--epochs", type=positive_int, default=None, help="dense training epochs (default: the network's recipe)")
    p.add_argument("--prune-epochs", type=positive_int, default=None, help="SCA fine-tuning epochs (default: the network's recipe)")
    p.add_argument("--criterion", default="sca-drive",
                   help="pruning criterion (default sca-drive: SCA scoring depolarisation instead of |V|)")
    p.add_argument("--budget", default="energy=0.3",
                   help="pruning budget KIND=VALUE, as for sca-lava prune (default energy=0.3: 30 %% of the dense "
                   "net's dynamic energy per inference on --profile)")
    p.add_argument("--profile", default="loihi2", help="hardware profile of energy and cores budgets (default loihi2)")
    p.add_argument("--lava-samples", type=positive_int, default=None,
                   help="test digits run in Lava, every layer recorded (default: the network's recipe)")
    p.add_argument("--train-samples", type=positive_int, default=None, help="use only the first N training digits")
    p.add_argument("--test-samples", type=positive_int, default=None,
                   help="evaluate on the first N test digits only (default: all 1000)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the weights and batch order (default 0)")
    add_device_arg(p)
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/dense.pt and OUT/pruned/masked.pt where a previous run stopped")
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from sca_lava.atomic import check_output_path
    from sca_lava.workflow import DemoConfig, run_demo

    check_output_path(args.out, "dir")  # before minutes of training
    run_demo(DemoConfig(out=args.out, arch=args.arch, epochs=args.epochs, prune_epochs=args.prune_epochs,
                        criterion=args.criterion, budget=args.budget, profile=args.profile, lava_samples=args.lava_samples,
                        train_samples=args.train_samples, test_samples=args.test_samples, seed=args.seed, device=args.device, resume=args.resume,
                        progress=not args.no_progress),
             log=lambda m: print(m, flush=True))
    return 0
