"""Pod activities: the pod's rows and placement (`records`), and the work on its host
(`hosts`: containers and snapshots through the pod-host client)."""
