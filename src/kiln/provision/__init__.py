"""Local clusters: provisioners that start Kiln nodes as processes (container) or VMs (qemu)."""
