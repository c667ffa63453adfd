import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AnyPrincipal, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';

/**
 * Where the job tasks run: private isolated subnets, no NAT and no internet gateway. The jobs only talk to
 * AWS services, so they reach them through VPC endpoints: free gateway endpoints for S3 and DynamoDB (all
 * the bulk traffic), interface endpoints for ECR (image pull), CloudWatch Logs and Glue. KMS needs none: S3
 * and DynamoDB call KMS on the task's behalf. With one zone (dev) the four interface endpoints cost about
 * what one NAT gateway does, and a job has no route to the internet. A job that needs another service gets
 * another endpoint here, on purpose. The gateway endpoints' policies keep their traffic to this account's buckets and
 * tables (`aws:ResourceAccount`), and ECR's layer bucket for image pulls: code in the image holding other
 * credentials cannot write the lake's data to another account through them. (The interface endpoints keep the
 * default policy: ECR's GetAuthorizationToken names no resource an account condition could match.)
 *
 * Built in the scope it is given (JobCompute's), so the resources keep the logical ids a deployed stack has.
 */
export class JobNetwork {
  readonly vpc: Vpc;
  /** The tasks' group: HTTPS out (only the endpoints are reachable), nothing in. */
  readonly securityGroup: SecurityGroup;

  constructor(scope: Construct, props: { readonly config: InfraConfig; readonly flowLogKey: IKey; readonly flowLogGroupName: string; readonly removalPolicy: RemovalPolicy }) {
    const { config } = props;
    this.vpc = new Vpc(scope, 'Vpc', {
      ipAddresses: IpAddresses.cidr(config.vpcCidr),
      maxAzs: config.vpcMaxAzs,
      natGateways: 0,
      createInternetGateway: false,
      subnetConfiguration: [{ name: 'jobs', subnetType: SubnetType.PRIVATE_ISOLATED }],
      // Added below, each with a policy that keeps its traffic to this account.
      // Locking down the default security group takes a Lambda-backed custom resource; nothing uses
      // that group (every task and endpoint has its own), so it is left as AWS creates it.
      restrictDefaultSecurityGroup: false,
    });
    // The gateway endpoints carry the bulk traffic; their policies keep it to this account's buckets and tables, so
    // code in the image holding other credentials cannot write to another account's (ECR's layer bucket excepted:
    // Fargate pulls the image's layers from it through this endpoint).
    const stack = Stack.of(scope);
    const thisAccount = { StringEquals: { 'aws:ResourceAccount': stack.account } };
    const s3Endpoint = this.vpc.addGatewayEndpoint('S3', { service: GatewayVpcEndpointAwsService.S3 });
    s3Endpoint.addToPolicy(new PolicyStatement({ sid: 'ThisAccountsBuckets', principals: [new AnyPrincipal()], actions: ['s3:*'], resources: ['*'], conditions: thisAccount }));
    s3Endpoint.addToPolicy(new PolicyStatement({
      sid: 'EcrImageLayers',
      principals: [new AnyPrincipal()],
      actions: ['s3:GetObject'],
      resources: [`arn:${stack.partition}:s3:::prod-${stack.region}-starport-layer-bucket/*`],
    }));
    const dynamoEndpoint = this.vpc.addGatewayEndpoint('DynamoDB', { service: GatewayVpcEndpointAwsService.DYNAMODB });
    dynamoEndpoint.addToPolicy(new PolicyStatement({ sid: 'ThisAccountsTables', principals: [new AnyPrincipal()], actions: ['dynamodb:*'], resources: ['*'], conditions: thisAccount }));
    const flowLogGroup = new LogGroup(scope, 'FlowLogs', {
      logGroupName: props.flowLogGroupName,
      retention: config.logRetentionDays,
      encryptionKey: props.flowLogKey,
      removalPolicy: props.removalPolicy,
    });
    this.vpc.addFlowLog('FlowLog', { destination: FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: FlowLogTrafficType.ALL });

    this.securityGroup = new SecurityGroup(scope, 'TaskSecurityGroup', {
      vpc: this.vpc,
      description: `medallion ${config.envName} job tasks: HTTPS out to VPC endpoints only, nothing in`,
      allowAllOutbound: false,
    });
    // The subnets have no internet route, so 443 anywhere reaches only the endpoints (interface and gateway).
    this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to AWS services through the VPC endpoints');
    const endpointSecurityGroup = new SecurityGroup(scope, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: `medallion ${config.envName} interface endpoints: HTTPS in from the job tasks only`,
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(this.securityGroup, Port.tcp(443), 'HTTPS from the job tasks');
    for (const [endpointId, service] of [
      ['EcrApiEndpoint', InterfaceVpcEndpointAwsService.ECR],
      ['EcrDockerEndpoint', InterfaceVpcEndpointAwsService.ECR_DOCKER],
      ['LogsEndpoint', InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
      ['GlueEndpoint', InterfaceVpcEndpointAwsService.GLUE],
    ] as const) {
      this.vpc.addInterfaceEndpoint(endpointId, {
        service,
        privateDnsEnabled: true,
        subnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
        securityGroups: [endpointSecurityGroup],
        open: false,
      });
    }
  }
}
