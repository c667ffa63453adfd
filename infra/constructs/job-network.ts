import { RemovalPolicy } from 'aws-cdk-lib';
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
 * another endpoint here, on purpose.
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
      gatewayEndpoints: {
        S3: { service: GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: GatewayVpcEndpointAwsService.DYNAMODB },
      },
      // Locking down the default security group takes a Lambda-backed custom resource; nothing uses
      // that group (every task and endpoint has its own), so it is left as AWS creates it.
      restrictDefaultSecurityGroup: false,
    });
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
