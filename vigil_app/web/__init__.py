"""`vigil serve`: one ASGI application (Starlette) with the client portal (/portal), the
finance console (/console) and the provider webhooks (/webhooks), server-rendered with
Jinja2; every asset is served by the app itself, no script is fetched at run time."""
