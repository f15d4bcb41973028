"""The emulated AWS account of the end-to-end test, through the AWS APIs
(boto3 against moto): what the test puts there before a claim, and what it
finds there after.

  account.py ENDPOINT seed-code REGION BUCKET KEY...   code objects; prints {key: versionId}
  account.py ENDPOINT network REGION                   an existing VPC and private subnet; prints their ids
  account.py ENDPOINT inventory REGION...              every resource a stack can leave; prints JSON
  account.py ENDPOINT describe REGION...               what the audit reads: network paths and identities

Every command prints one JSON document on stdout.
"""

import io
import json
import sys
import zipfile

import boto3

CREDENTIALS = {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "e2e"}


def client(endpoint, service, region="us-east-1"):
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **CREDENTIALS)


def seed_code(endpoint, region, bucket, keys):
    """A versioned bucket with a small zip at each key (moto runs no
    Lambda code, so only its hash matters)."""
    s3 = client(endpoint, "s3", region)
    try:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    versions = {}
    for key in keys:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            # The key in the code, so that each key has its own hash.
            z.writestr("index.js", "exports.handler = async () => ({}); // %s\n" % key)
        versions[key] = s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())["VersionId"]
    return versions


def network(endpoint, region):
    """A platform's network: a VPC with a private subnet that routes egress
    through a NAT gateway in a public subnet, and the security group of a
    cluster's nodes in it."""
    ec2 = client(endpoint, "ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    az = region + "a"
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.0.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rt_public = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt_public, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rt_public, SubnetId=public)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    rt_private = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt_private, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.associate_route_table(RouteTableId=rt_private, SubnetId=private)
    # The cluster's nodes, for a Composition that opens the admin port to them.
    nodes = ec2.create_security_group(VpcId=vpc, GroupName="cluster-nodes", Description="cluster nodes")["GroupId"]
    return {"vpcId": vpc, "subnetId": private, "availabilityZone": az, "clusterSecurityGroupId": nodes,
            "ids": [vpc, public, private, igw, rt_public, rt_private, eip, nat, nodes]}


def inventory(endpoint, regions):
    """What a stack can leave in the account, by kind: EC2 resources that
    are not a region's defaults, load balancers and target groups, hosted
    zones, IAM roles, instance profiles and role policies, log groups,
    Secrets Manager secrets and Lambda functions."""
    out = {}

    def add(kind, ident):
        out.setdefault(kind, []).append(ident)

    for region in regions:
        ec2 = client(endpoint, "ec2", region)
        default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]}
        for v in ec2.describe_vpcs()["Vpcs"]:
            if v["VpcId"] not in default_vpcs:
                add("vpc", v["VpcId"])
        for s in ec2.describe_subnets()["Subnets"]:
            if s["VpcId"] not in default_vpcs:
                add("subnet", s["SubnetId"])
        for g in ec2.describe_internet_gateways()["InternetGateways"]:
            if not any(a["VpcId"] in default_vpcs for a in g.get("Attachments", [])):
                add("internet-gateway", g["InternetGatewayId"])
        for r in ec2.describe_route_tables()["RouteTables"]:
            main = any(a.get("Main") for a in r.get("Associations", []))
            if r["VpcId"] not in default_vpcs and not main:
                add("route-table", r["RouteTableId"])
        for n in ec2.describe_nat_gateways()["NatGateways"]:
            if n["State"] not in ("deleted", "deleting"):
                add("nat-gateway", n["NatGatewayId"])
        for a in ec2.describe_addresses()["Addresses"]:
            add("address", a["AllocationId"])
        for g in ec2.describe_security_groups()["SecurityGroups"]:
            if g["GroupName"] != "default":
                add("security-group", g["GroupId"])
        for r in ec2.describe_instances()["Reservations"]:
            for i in r["Instances"]:
                if i["State"]["Name"] not in ("terminated", "shutting-down"):
                    add("instance", i["InstanceId"])
        elb = client(endpoint, "elbv2", region)
        for lb in elb.describe_load_balancers()["LoadBalancers"]:
            add("load-balancer", lb["LoadBalancerArn"])
        for tg in elb.describe_target_groups()["TargetGroups"]:
            add("target-group", tg["TargetGroupArn"])
        # An instance's root volume goes with it (DeleteOnTermination, which
        # moto leaves out of DescribeVolumes): it is the volume attached at
        # the instance's root device.
        roots = {(i["InstanceId"], i.get("RootDeviceName"))
                 for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
        for v in ec2.describe_volumes()["Volumes"]:
            root = any((a.get("InstanceId"), a.get("Device")) in roots for a in v.get("Attachments", []))
            if v["State"] != "deleted" and not root:
                add("volume", v["VolumeId"])
        for s in client(endpoint, "secretsmanager", region).list_secrets()["SecretList"]:
            add("secret", region + ":" + s["Name"])
        for g in client(endpoint, "logs", region).describe_log_groups()["logGroups"]:
            add("log-group", region + ":" + g["logGroupName"])
        for f in client(endpoint, "lambda", region).list_functions()["Functions"]:
            add("function", region + ":" + f["FunctionName"])
    for z in client(endpoint, "route53").list_hosted_zones()["HostedZones"]:
        add("hosted-zone", z["Id"] + " " + z["Name"])
    iam = client(endpoint, "iam")
    for r in iam.list_roles()["Roles"]:
        if not r["Path"].startswith("/aws-service-role/"):
            add("role", r["RoleName"])
            for p in iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"]:
                add("role-policy", r["RoleName"] + "/" + p)
    for p in iam.list_instance_profiles()["InstanceProfiles"]:
        add("instance-profile", p["InstanceProfileName"])
    return out


def describe(endpoint, regions):
    """What the account audit reads: each instance's groups, subnet routes,
    addresses, zone and tags; each group's rules; each role's trust, inline
    and attached policies; instance profiles; functions, log groups and
    volumes; Secrets Manager secrets; load balancers with their groups and
    listeners, and target groups with their targets."""
    out = {"instances": [], "securityGroups": [], "subnets": [], "roles": [], "instanceProfiles": [], "functions": [], "logGroups": [], "volumes": [],
           "secrets": [], "loadBalancers": [], "targetGroups": []}
    for region in regions:
        ec2 = client(endpoint, "ec2", region)
        tables = ec2.describe_route_tables()["RouteTables"]
        main_of = {}
        explicit = {}
        for t in tables:
            routes = [{"destination": r.get("DestinationCidrBlock", ""), "gateway": r.get("GatewayId", "") or r.get("NatGatewayId", "")}
                      for r in t.get("Routes", [])]
            for a in t.get("Associations", []):
                if a.get("Main"):
                    main_of[t["VpcId"]] = routes
                elif a.get("SubnetId"):
                    explicit[a["SubnetId"]] = routes
        for s in ec2.describe_subnets()["Subnets"]:
            out["subnets"].append({"id": s["SubnetId"], "vpcId": s["VpcId"], "region": region,
                                   "routes": explicit.get(s["SubnetId"], main_of.get(s["VpcId"], []))})
        for g in ec2.describe_security_groups()["SecurityGroups"]:
            def rules(perms):
                return [{"protocol": p.get("IpProtocol", ""), "fromPort": p.get("FromPort", -1), "toPort": p.get("ToPort", -1),
                         "cidrs": [r["CidrIp"] for r in p.get("IpRanges", [])],
                         "groups": [r["GroupId"] for r in p.get("UserIdGroupPairs", [])]} for p in perms]
            out["securityGroups"].append({"id": g["GroupId"], "name": g["GroupName"], "vpcId": g.get("VpcId", ""), "region": region,
                                          "ingress": rules(g.get("IpPermissions", [])), "egress": rules(g.get("IpPermissionsEgress", []))})
        for r in ec2.describe_instances()["Reservations"]:
            for i in r["Instances"]:
                if i["State"]["Name"] in ("terminated", "shutting-down"):
                    continue
                out["instances"].append({"id": i["InstanceId"], "region": region, "subnetId": i.get("SubnetId", ""),
                                         "zone": i.get("Placement", {}).get("AvailabilityZone", ""),
                                         "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
                                         "groups": [g["GroupId"] for g in i.get("SecurityGroups", [])],
                                         "publicIp": i.get("PublicIpAddress", ""),
                                         "profileArn": i.get("IamInstanceProfile", {}).get("Arn", "")})
        for v in ec2.describe_volumes()["Volumes"]:
            out["volumes"].append({"id": v["VolumeId"], "region": region, "zone": v["AvailabilityZone"], "encrypted": v.get("Encrypted", False),
                                   "kmsKeyId": v.get("KmsKeyId", ""),
                                   "tags": {t["Key"]: t["Value"] for t in v.get("Tags", [])}})
        for f in client(endpoint, "lambda", region).list_functions()["Functions"]:
            out["functions"].append({"name": f["FunctionName"], "arn": f["FunctionArn"], "role": f["Role"], "region": region})
        for s in client(endpoint, "secretsmanager", region).list_secrets()["SecretList"]:
            out["secrets"].append({"name": s["Name"], "arn": s["ARN"], "region": region})
        for g in client(endpoint, "logs", region).describe_log_groups()["logGroups"]:
            out["logGroups"].append({"name": g["logGroupName"], "arn": g["arn"], "region": region})
        elb = client(endpoint, "elbv2", region)
        for lb in elb.describe_load_balancers()["LoadBalancers"]:
            listeners = [{"port": l.get("Port", 0), "targetGroups": [a.get("TargetGroupArn", "") for a in l.get("DefaultActions", [])]}
                         for l in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]]
            out["loadBalancers"].append({"name": lb["LoadBalancerName"], "arn": lb["LoadBalancerArn"], "region": region,
                                         "scheme": lb.get("Scheme", ""), "groups": lb.get("SecurityGroups", []), "listeners": listeners})
        for tg in elb.describe_target_groups()["TargetGroups"]:
            health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
            out["targetGroups"].append({"arn": tg["TargetGroupArn"], "port": tg.get("Port", 0), "targets": [d["Target"]["Id"] for d in health]})
    iam = client(endpoint, "iam")
    for r in iam.list_roles()["Roles"]:
        name = r["RoleName"]
        inline = {p: json.dumps(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
                  for p in iam.list_role_policies(RoleName=name)["PolicyNames"]}
        attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
        out["roles"].append({"name": name, "arn": r["Arn"], "trust": json.dumps(r["AssumeRolePolicyDocument"]),
                             "inline": inline, "attached": attached})
    for p in iam.list_instance_profiles()["InstanceProfiles"]:
        out["instanceProfiles"].append({"name": p["InstanceProfileName"], "arn": p["Arn"], "roles": [r["Arn"] for r in p["Roles"]]})
    return out


def main(argv):
    endpoint, command, args = argv[1], argv[2], argv[3:]
    if command == "seed-code":
        result = seed_code(endpoint, args[0], args[1], args[2:])
    elif command == "network":
        result = network(endpoint, args[0])
    elif command == "inventory":
        result = inventory(endpoint, args)
    elif command == "describe":
        result = describe(endpoint, args)
    else:
        raise SystemExit("unknown command " + command)
    json.dump(result, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv)
