"""moto's server, emulating the AWS account the end-to-end test's real
provider-aws builds the stacks in, with one fidelity fix.

moto's DescribeInstances leaves privateDnsName out of each network
interface's privateIpAddressesSet; real EC2 fills it, and provider-aws's
Instance schema requires it, so without it no Instance becomes Ready. The
fix fills it from moto's own DNS name of the address. Nothing else differs
from `moto_server`.
"""

import functools
import sys

import moto
from moto.ec2.models import elastic_network_interfaces as eni
from moto.ec2.utils import generate_dns_from_ip
from moto.server import main

_addresses = eni.NetworkInterface.instance_private_ip_address_list


@functools.wraps(_addresses.fget)
def _with_dns_names(self):
    items = _addresses.fget(self)
    for item in items:
        if item.get("PrivateIpAddress") and not item.get("PrivateDnsName"):
            item["PrivateDnsName"] = generate_dns_from_ip(item["PrivateIpAddress"])
    return items


eni.NetworkInterface.instance_private_ip_address_list = property(_with_dns_names)

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--version":
        print(moto.__version__)
        sys.exit(0)
    main(sys.argv[1:])
