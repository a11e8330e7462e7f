"""The federation sender: per-destination queues of PDUs and EDUs, sent as transactions."""
