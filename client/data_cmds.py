"""``dml data add``: a dataset into the store, as a manifest of shards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from client.datasets import DATASET_HELP, load_dataset
from client.options import ContextOpt, XColumnOpt, YColumnOpt, cli_app, connected
from client.session import NO_FLAGS, Connection, open_session
from node.store.cid import cid_of

if TYPE_CHECKING:
    pass

console = Console()
data_app = cli_app("Datasets in the store.")


@data_app.command("add")
@connected()
def data_add(
    source: Annotated[str, typer.Argument(help=DATASET_HELP)],
    shards: Annotated[int, typer.Option(min=1, max=1000, help="training shards (a task's units per round)")] = 4,
    shard_seed: Annotated[int, typer.Option(min=0, help="seed of the permutation dealing samples to shards")] = 0,
    holdout: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="fraction held out for evaluation (unless it has a test split)")
    ] = 0.2,
    x_column: XColumnOpt = "image",
    y_column: YColumnOpt = "label",
    context: ContextOpt = 64,
    connection: Connection = NO_FLAGS,
) -> None:
    """Store a dataset as a manifest of shard objects (a task of as many units uses it as is); prints its CID."""
    from node.ml.data import split
    from node.ml.shards import encode_split

    corpus = load_dataset(source, x_column=x_column, y_column=y_column, context=context)
    parts = split(corpus.train, shards=shards, seed=shard_seed, holdout_fraction=holdout, test=corpus.test)
    manifest, objects = encode_split(
        parts, shard_seed=shard_seed, holdout_fraction=None if corpus.test is not None else holdout
    )
    session = open_session(connection, sign=False)
    for data in objects.values():
        session.store.put(data)
    cid = cid_of(manifest)
    train = corpus.train
    console.print(
        f"{cid}  ({len(train)} samples of shape {train.sample_shape}, {str(train.x.dtype).removeprefix('torch.')}, "
        f"{train.num_classes} classes; "
        f"{shards} shards, {len(parts.test)} held out)"
    )
