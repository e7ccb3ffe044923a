"""Embedding an archive on a Ray cluster, for the faces: ``ClusterService().embed(request)``.

::

    from clipdesk.services.cluster import ClusterService, EmbedRequest
    summary = ClusterService().embed(EmbedRequest(out="/shared/vectors", inputs=("/archive",)))
    print(summary.describe())

No library is involved: the run reads photo files and writes Parquet shards
(:mod:`clipdesk.cluster.shards`) that ``clipdesk-cli vectors import`` merges into a library
later, anywhere. The model is resolved here, on the driver, as every command resolves it (a
name, a path, else the active model, else the bundled demo); the workers load it from that path,
so it must be readable at that path on every worker. The runtime choice (``--runtime``, else
``CLIPDESK_RUNTIME``, else the setting) is taken here too, so every worker asks for the same.
See :mod:`clipdesk.cluster.embed` for the pipeline.
"""

from __future__ import annotations

from clipdesk.cluster.job import EmbedRequest, EmbedSummary
from clipdesk.common.progress import CancelToken, ProgressCallback

__all__ = ["ClusterService", "EmbedRequest", "EmbedSummary"]


class ClusterService:
    """``app.cluster``'s work, usable without an app or a library: it never opens one."""

    def embed(
        self,
        request: EmbedRequest,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> EmbedSummary:
        """Run the job to the end (or until ``cancel``); the shards written are kept either
        way, and a rerun of the same request carries on. Raises ClipDeskError for what a user
        can fix: Ray missing, a model that cannot be found, an output folder of another model,
        a cluster without the resources asked for. Ray is started and stopped in the calling
        thread (see :mod:`clipdesk.cluster.embed`)."""
        from clipdesk.cluster import embed
        from clipdesk.cluster.ray_session import ray_module
        from clipdesk.model import runtime as rt
        from clipdesk.model.manager import resolve_model

        ray_module()  # Ray missing is said before a model is looked for
        path = resolve_model(request.model).expanduser().absolute()
        choice = rt.check_choice(request.runtime or rt.configured_choice())
        return embed.run(request, str(path), choice, progress, cancel)
