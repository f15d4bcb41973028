"""moto's server, emulating the AWS account the end-to-end test's real
provider-aws builds the stacks in, with two fidelity fixes.

moto's DescribeInstances leaves privateDnsName out of each network
interface's privateIpAddressesSet; real EC2 fills it, and provider-aws's
Instance schema requires it, so without it no Instance becomes Ready. The
fix fills it from moto's own DNS name of the address.

EC2 makes RunInstances, CreateVolume and CreateNatGateway idempotent by
their ClientToken: a request repeated with a token already used returns
what the first made and makes nothing ("Ensuring idempotency", EC2 API
reference). moto makes another each time, which the fault phase (a lost
response, retried by the AWS SDK with the same token) would count as a
duplicate that EC2 never makes. The fix remembers each token's answer.
Nothing else differs from `moto_server`.
"""

import functools
import sys

import moto
from moto.ec2.models import elastic_network_interfaces as eni
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.ec2.responses.instances import InstanceResponse
from moto.ec2.responses.nat_gateways import NatGateways
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

_answers = {}


def _idempotent(cls, name):
    create = getattr(cls, name)

    @functools.wraps(create)
    def by_token(self):
        token = self._get_param("ClientToken")
        if not token:
            return create(self)
        key = (self.current_account, self.region, name, token)
        if key not in _answers:
            _answers[key] = create(self)
        return _answers[key]

    setattr(cls, name, by_token)


_idempotent(InstanceResponse, "run_instances")
_idempotent(ElasticBlockStore, "create_volume")
_idempotent(NatGateways, "create_nat_gateway")

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--version":
        print(moto.__version__)
        sys.exit(0)
    main(sys.argv[1:])
