"""fakekms: a local, faithful test double for AWS Key Management Service."""

__version__ = "0.1.0"
