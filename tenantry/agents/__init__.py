"""The daemons that run beside the control plane: the pod host agent and the edge agent."""
