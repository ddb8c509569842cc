"""Vendor API connections: one resource per vendor, each building that vendor's client
(connectors/<vendor>/client.py) from configuration.

Every setting is bound from an environment variable through ``dg.EnvVar`` (table below and
``ENV_VARS``); an unset variable leaves its field empty, and a vendor with a required field
empty is "not configured": its sensor skips, naming the variables to set, and its asset
refuses to run. Site maps default to the file the vendor's export folder holds in the
inbox (``<inbox>/<vendor>/sites.json`` or ``sites.csv``), so an API pull and an export
map sites the same way.

| vendor | required | optional |
| --- | --- | --- |
| genetec | VIGIL_GENETEC_URL, _USER, _APP_ID, _PASSWORD | VIGIL_GENETEC_MAPPING |
| milestone | VIGIL_MILESTONE_URL, _USER, _PASSWORD | VIGIL_MILESTONE_MAPPING |
| avigilon | VIGIL_AVIGILON_URL, _USER, _PASSWORD, _NONCE, _KEY | VIGIL_AVIGILON_INTEGRATION_ID, _MAPPING |
| lenel | VIGIL_LENEL_URL, _USER, _PASSWORD, _APP_ID | VIGIL_LENEL_DIRECTORY_ID, _SITES |
| amag | VIGIL_AMAG_URL, _USER, _PASSWORD | VIGIL_AMAG_SITES |
| tracktik | VIGIL_TRACKTIK_URL, _CLIENT_ID, _CLIENT_SECRET, _USER, _PASSWORD | VIGIL_TRACKTIK_SERVICE_TYPES |
| crm | VIGIL_CRM_URL, VIGIL_CRM_CLIENT_ID, VIGIL_CRM_CLIENT_SECRET | VIGIL_CRM_CONTRACTS_DIR, _SITES |
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

VENDORS = ("genetec", "milestone", "avigilon", "lenel", "amag", "tracktik", "crm")

# vendor -> {resource field: environment variable}
ENV_VARS: dict[str, dict[str, str]] = {
    "genetec": {"url": "VIGIL_GENETEC_URL", "user": "VIGIL_GENETEC_USER", "app_id": "VIGIL_GENETEC_APP_ID",
                "password": "VIGIL_GENETEC_PASSWORD", "mapping": "VIGIL_GENETEC_MAPPING"},
    "milestone": {"url": "VIGIL_MILESTONE_URL", "user": "VIGIL_MILESTONE_USER",
                  "password": "VIGIL_MILESTONE_PASSWORD", "mapping": "VIGIL_MILESTONE_MAPPING"},
    "avigilon": {"url": "VIGIL_AVIGILON_URL", "user": "VIGIL_AVIGILON_USER", "password": "VIGIL_AVIGILON_PASSWORD",
                 "user_nonce": "VIGIL_AVIGILON_NONCE", "user_key": "VIGIL_AVIGILON_KEY",
                 "integration_id": "VIGIL_AVIGILON_INTEGRATION_ID", "mapping": "VIGIL_AVIGILON_MAPPING"},
    "lenel": {"url": "VIGIL_LENEL_URL", "user": "VIGIL_LENEL_USER", "password": "VIGIL_LENEL_PASSWORD",
              "app_id": "VIGIL_LENEL_APP_ID", "directory_id": "VIGIL_LENEL_DIRECTORY_ID",
              "sites": "VIGIL_LENEL_SITES"},
    "amag": {"url": "VIGIL_AMAG_URL", "user": "VIGIL_AMAG_USER", "password": "VIGIL_AMAG_PASSWORD",
             "sites": "VIGIL_AMAG_SITES"},
    "tracktik": {"url": "VIGIL_TRACKTIK_URL", "client_id": "VIGIL_TRACKTIK_CLIENT_ID",
                 "client_secret": "VIGIL_TRACKTIK_CLIENT_SECRET", "user": "VIGIL_TRACKTIK_USER",
                 "password": "VIGIL_TRACKTIK_PASSWORD", "service_types": "VIGIL_TRACKTIK_SERVICE_TYPES"},
    "crm": {"url": "VIGIL_CRM_URL", "client_id": "VIGIL_CRM_CLIENT_ID", "client_secret": "VIGIL_CRM_CLIENT_SECRET",
            "contracts_dir": "VIGIL_CRM_CONTRACTS_DIR", "sites": "VIGIL_CRM_SITES"},
}
OPTIONAL_FIELDS = frozenset({"mapping", "sites", "integration_id", "directory_id", "contracts_dir",
                             "service_types"})


def resource_key(vendor: str) -> str:
    return f"{vendor}_api"


class VendorApiResource(dg.ConfigurableResource):
    """What every vendor connection shares. `backfill_days`: how far back the first pull of
    a time-windowed API reaches (0: the client's default, 90 days for video systems and
    31 for TrackTik); later pulls start from the cursor."""

    url: str = ""
    backfill_days: int = 0

    @classmethod
    def vendor(cls) -> str:
        raise NotImplementedError

    def missing(self) -> list[str]:
        """Environment variables of required settings that are empty."""
        return [env for fld, env in ENV_VARS[self.vendor()].items()
                if fld not in OPTIONAL_FIELDS and not getattr(self, fld)]

    def configured(self) -> bool:
        return not self.missing()

    def client(self, inbox: Path) -> Any:
        """The vendor's client; `inbox` locates the default site map."""
        raise NotImplementedError

    def _map_file(self, configured: str, inbox: Path, name: str) -> Path:
        return Path(configured).expanduser() if configured else Path(inbox) / self.vendor() / name

    def _first_pull_from(self) -> datetime | None:
        return datetime.now(UTC) - timedelta(days=self.backfill_days) if self.backfill_days else None


class GenetecApiResource(VendorApiResource):
    """Genetec Security Center Web SDK (Basic auth `user;appId`)."""

    user: str = ""
    app_id: str = ""
    password: str = ""
    mapping: str = ""

    @classmethod
    def vendor(cls) -> str:
        return "genetec"

    def client(self, inbox: Path) -> Any:
        from connectors.genetec.client import GenetecClient

        return GenetecClient(self.url, self.user, self.app_id, self.password,
                             mapping=self._map_file(self.mapping, inbox, "sites.json"),
                             first_pull_from=self._first_pull_from())


class MilestoneApiResource(VendorApiResource):
    """Milestone XProtect API Gateway (identity provider password grant)."""

    user: str = ""
    password: str = ""
    mapping: str = ""

    @classmethod
    def vendor(cls) -> str:
        return "milestone"

    def client(self, inbox: Path) -> Any:
        from connectors.milestone.client import MilestoneClient

        return MilestoneClient(self.url, self.user, self.password,
                               mapping=self._map_file(self.mapping, inbox, "sites.json"))


class AvigilonApiResource(VendorApiResource):
    """Avigilon ACC Web Endpoint (user login plus the partner nonce and key)."""

    user: str = ""
    password: str = ""
    user_nonce: str = ""
    user_key: str = ""
    integration_id: str = ""
    mapping: str = ""

    @classmethod
    def vendor(cls) -> str:
        return "avigilon"

    def client(self, inbox: Path) -> Any:
        from connectors.avigilon.client import AvigilonClient

        return AvigilonClient(self.url, self.user, self.password, user_nonce=self.user_nonce,
                              user_key=self.user_key, integration_id=self.integration_id or None,
                              mapping=self._map_file(self.mapping, inbox, "sites.json"),
                              first_pull_from=self._first_pull_from())


class LenelApiResource(VendorApiResource):
    """Lenel OnGuard OpenAccess REST (session token, Application-Id header)."""

    user: str = ""
    password: str = ""
    app_id: str = ""
    directory_id: str = ""
    sites: str = ""

    @classmethod
    def vendor(cls) -> str:
        return "lenel"

    def client(self, inbox: Path) -> Any:
        from connectors.lenel.client import LenelClient

        return LenelClient(self.url, self.user, self.password, self.app_id,
                           directory_id=self.directory_id or None,
                           sites=self._map_file(self.sites, inbox, "sites.csv"))


class AmagApiResource(VendorApiResource):
    """AMAG Symmetry transaction export over HTTP (Basic auth)."""

    user: str = ""
    password: str = ""
    sites: str = ""

    @classmethod
    def vendor(cls) -> str:
        return "amag"

    def client(self, inbox: Path) -> Any:
        from connectors.amag.client import AmagClient

        return AmagClient(self.url, self.user, self.password, sites=self._map_file(self.sites, inbox, "sites.csv"))


class TrackTikApiResource(VendorApiResource):
    """TrackTik REST (OAuth2 password grant with a client id and secret). `service_types`: the
    deployment's position -> service type table (default the inbox's
    `tracktik/service_types.csv`; TrackTik positions carry no type)."""

    client_id: str = ""
    client_secret: str = ""
    user: str = ""
    password: str = ""
    service_types: str = ""

    @classmethod
    def vendor(cls) -> str:
        return "tracktik"

    def client(self, inbox: Path) -> Any:
        from connectors.tracktik.client import TrackTikClient

        kw = {"backfill": timedelta(days=self.backfill_days)} if self.backfill_days else {}
        return TrackTikClient(self.url, self.client_id, self.client_secret, self.user, self.password,
                              service_types=self._map_file(self.service_types, inbox, "service_types.csv"), **kw)


class CrmApiResource(VendorApiResource):
    """Salesforce REST (a connected app's client credentials). `sites`: the deployment's
    table of each account's sites (default the inbox's `crm/sites.csv`); `contracts_dir`:
    the contract YAML the ownership checks read (default the inbox's `contracts/`)."""

    client_id: str = ""
    client_secret: str = ""
    contracts_dir: str = ""
    sites: str = ""

    @classmethod
    def vendor(cls) -> str:
        return "crm"

    def client(self, inbox: Path) -> Any:
        from connectors.crm.client import CrmClient

        folder = Path(self.contracts_dir).expanduser() if self.contracts_dir else Path(inbox) / "contracts"
        return CrmClient(self.url, self.client_id, self.client_secret, contracts_dir=folder,
                         sites=self._map_file(self.sites, inbox, "sites.csv"))


RESOURCE_CLASSES: dict[str, type[VendorApiResource]] = {
    cls.vendor(): cls for cls in (GenetecApiResource, MilestoneApiResource, AvigilonApiResource, LenelApiResource,
                                  AmagApiResource, TrackTikApiResource, CrmApiResource)
}


def _env(name: str) -> dg.EnvVar | str:
    """An EnvVar when the variable is set; unset stays empty (= not configured)."""
    return dg.EnvVar(name) if os.environ.get(name) else ""


def from_env(vendor: str) -> VendorApiResource:
    """The vendor's resource with every field bound to its environment variable."""
    return RESOURCE_CLASSES[vendor](**{fld: _env(env) for fld, env in ENV_VARS[vendor].items()})


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={resource_key(v): from_env(v) for v in VENDORS})
