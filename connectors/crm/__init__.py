"""CRM (monitoring contracts): accounts, sites, contacts, contracts and their recurring
lines -> client contract documents in raw.contract_documents (interfaces.md section 3).

See docs/connectors/crm.md for the export and API shape, the field mapping, how a CRM
account merges with a client's contracts YAML, and the assumptions made."""
