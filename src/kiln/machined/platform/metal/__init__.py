"""The metal platform: what ``kiln-machined --mode metal`` does as PID 1 of Kiln OS.

- :mod:`.pid1`: mount the kernel's filesystems, reap orphans, power off or reboot;
- :mod:`.netif` and :mod:`.dhcp`: bring interfaces up and configure them by DHCP (IPv4);
- :mod:`.console`: the status screen on the console instead of a login prompt;
- :mod:`.runner`: runs the node with all of the above and never returns.
"""
