"""`nessdata stub bcb|omie`: local stand-ins for the BCB and Omie APIs, serving the
recorded responses shipped with nessdata, for trying syncs with no network."""

from __future__ import annotations

import threading

import click

from . import main, with_state


@main.group()
def stub():
    """Serve recorded BCB or Omie responses on 127.0.0.1 (for trials; no network)."""


def _serve_until_interrupted(exports: list[str], stop) -> None:
    click.echo("# in another shell:")
    for line in exports:
        click.echo(f"export {line}")
    click.echo("# Ctrl-C stops the stub", err=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop()


@stub.command("bcb")
@click.option("--port", default=8701, show_default=True, help="Port on 127.0.0.1.")
def stub_bcb(port):
    """SGS and PTAX answers from recorded bodies: PTAX, SELIC and CDI for
    2021-01 to 2022-01, IPCA and IGP-M for 2021-01 to mid-2026."""
    from ..bcb.demo import DEMO_DATA
    from ..bcb.stub import BcbStub

    server = BcbStub.from_directory(DEMO_DATA).start(port)
    _serve_until_interrupted([f"NESSDATA_BCB_SGS_URL={server.sgs_url}",
                              f"NESSDATA_BCB_PTAX_URL={server.ptax_url}"], server.stop)


@stub.command("omie")
@click.option("--port", default=8702, show_default=True, help="Port on 127.0.0.1.")
@with_state
def stub_omie(state, port):
    """ListarClientes and ListarContasReceber from the recorded titles, moved so
    that they end in the current month; answers only the printed demo keys."""
    from ..omie.demo import DEMO_KEY, DEMO_SECRET, demo_stub

    server = demo_stub(state.settings.tz)
    url = server.start(port)
    _serve_until_interrupted([f"NESSDATA_OMIE_URL={url}",
                              f"NESSDATA_OMIE_APP_KEY={DEMO_KEY}",
                              f"NESSDATA_OMIE_APP_SECRET={DEMO_SECRET}"], server.stop)
