"""`uvicorn main:app` entry point (the deployment guide's command); same app as `app.main:app`."""

from app.main import app

__all__ = ["app"]
