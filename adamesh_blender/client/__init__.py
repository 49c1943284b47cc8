"""The backend worker seen from the add-on: start it, send typed requests, follow jobs. No bpy here.

client = WorkerClient(python, bundle.backend_root())
client.start()                                  # handshake: protocol and backend version
job = client.submit("probe_audio", ProbeAudioRequest(path).params())
client.pump()  # from a modal timer           |  client.wait(job)  # --background, tests
"""

from .errors import BackendError, InstallError, JobCancelled, WorkerDied, WorkerStartError, WorkerTimeout
from .jobs import Job, JobState
from .requests import AdaptRequest, GenerateRequest, ProbeAudioRequest
from .worker_client import WorkerClient, WorkerInfo

__all__ = [
    "AdaptRequest",
    "BackendError",
    "GenerateRequest",
    "InstallError",
    "Job",
    "JobCancelled",
    "JobState",
    "ProbeAudioRequest",
    "WorkerClient",
    "WorkerDied",
    "WorkerInfo",
    "WorkerStartError",
    "WorkerTimeout",
]
