"""The demo's inbox: one simulated company (connectors/simulator/world.py) delivered through
every feed the pipeline reads, without any piece of work billed twice.

Who delivers what:

| feed | delivers |
| --- | --- |
| `company.yaml`, `logo.svg` | the billing company (vigil_app/demo/company.py) |
| `contracts/*.yaml` | every client, its sites and its guarding contract |
| `crm/` | the monitoring contracts (merged with the YAML by connectors/crm) |
| `tax/` | the tax table |
| `timesheets/`, `patrols/` | shifts and patrol tours of every site not run on TrackTik |
| `tracktik/` | shifts and checkpoint scans of the TrackTik sites (`tracktik_sites`) |
| `incidents/`, `devices/` | every incident and every device (the generic feed) |
| `genetec/`, `milestone/`, `avigilon/` | cameras, alarms and events of the sites on that video system |
| `lenel/`, `amag/` (and `genetec/`) | doors, panels and access events of the sites on that access system |

Incidents and devices come twice on purpose, as a real company's would: from the generic
feed and from the vendor system that raised them. dbt keeps one of each (the generic
incident's `source_ref` is the vendor row's `source_ref`; the generic device's
`vendor_ref` is `<vendor>:<vendor id>`). Shifts and tours have no such shared key, so each
site's guarding goes to exactly one feed. Every vendor folder plants a few malformed
records of its own, so every source shows in the quarantine."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from connectors.simulator.generic import Manifest, write_generic
from connectors.simulator.world import World, build_world
from vigil_app.demo.company import write_company

VENDOR_FOLDERS = ("genetec", "milestone", "avigilon", "lenel", "amag", "tracktik", "crm")


@dataclass
class DemoManifest:
    """What `build_demo_inbox` wrote: the generic part's manifest and each vendor writer's."""

    inbox: Path
    seed: int
    start: date
    end: date
    generic: Manifest
    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracktik_sites: list[str] = field(default_factory=list)

    @property
    def quarantine_expected(self) -> dict[str, int]:
        out = dict(self.generic.quarantine_expected)
        for vendor, manifest in self.vendors.items():
            planted = manifest.get("planted") or []
            out[vendor] = sum(1 for p in planted if p.get("expect") == "quarantine")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"inbox": str(self.inbox), "seed": self.seed, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "tracktik_sites": list(self.tracktik_sites),
                "generic": self.generic.to_dict(),
                "vendors": {v: {"files": m.get("files"), "counts": m.get("counts")} for v, m in self.vendors.items()},
                "quarantine_expected": self.quarantine_expected}


def tracktik_sites(world: World) -> list[str]:
    """The sites whose guarding TrackTik reports: every site of every third client (C-1003,
    C-1006, ...); in a world of fewer than three clients, the last site if the world has
    more than one. Every other site's shifts and tours go to the generic feed."""
    chosen = [sid for n, client in enumerate(world.clients) if n % 3 == 2 for sid in client.site_ids]
    if not chosen and len(world.sites) > 1:
        chosen = [world.sites[-1].site_id]
    return chosen


def build_demo_inbox(inbox: Path, days: int = 35, clients: int = 4, seed: int = 7,
                     end: date | None = None) -> DemoManifest:
    """Simulate one company and write every feed into `inbox` (layout in the module
    docstring). Same arguments, same bytes; files of an earlier demo are replaced."""
    inbox = Path(inbox)
    write_company(inbox)
    world = build_world(days=days, clients=clients, seed=seed, end=end)
    on_tracktik = tracktik_sites(world)
    generic = write_generic(world, inbox, skip_guarding_sites=on_tracktik, contract_kinds=("guarding",))
    vendors: dict[str, dict[str, Any]] = {}
    for vendor in VENDOR_FOLDERS:
        simulator = importlib.import_module(f"connectors.{vendor}.simulator")
        if vendor == "tracktik":
            vendors[vendor] = simulator.write_exports(world, inbox / vendor, site_ids=set(on_tracktik))
        else:
            vendors[vendor] = simulator.write_exports(world, inbox / vendor)
    return DemoManifest(inbox=inbox, seed=seed, start=world.start, end=world.end, generic=generic,
                        vendors=vendors, tracktik_sites=on_tracktik)
