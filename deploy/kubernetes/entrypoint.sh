#!/bin/sh
# Link the image's kernel headers for the node's kernel (bcc looks under /lib/modules/$(uname -r)),
# mount tracefs if the node has not, then run the sensor with the container's arguments.
set -e
/opt/sensor/scripts/bootstrap >/dev/null
exec /usr/local/bin/sensor "$@"
