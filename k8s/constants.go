package k8s

// Protocol strings shared with EKS, aws-iam-authenticator and the Kubernetes provider. IRSA's
// own (the role-ARN annotation) live in package irsa.
const (
	// KubeSystemNamespace holds aws-auth and the EKS-managed aws-node objects.
	KubeSystemNamespace = "kube-system"
	// AWSAuthName is the ConfigMap aws-iam-authenticator reads its identity mappings from.
	AWSAuthName = "aws-auth"
	// MapRolesKey and MapUsersKey are aws-auth's data keys (YAML lists of mappings).
	MapRolesKey = "mapRoles"
	MapUsersKey = "mapUsers"
	// MapAccountsKey is aws-auth's list of accounts any of whose identities may authenticate.
	MapAccountsKey = "mapAccounts"

	// NodeUsername is the username a worker node's role maps to; the authenticator fills in
	// the instance's private DNS name, which is what the kubelet registers as.
	NodeUsername = "system:node:{{EC2PrivateDNSName}}"
	// BootstrappersGroup lets a node's kubelet request its client certificate.
	BootstrappersGroup = "system:bootstrappers"
	// NodesGroup is the group the Node authorizer recognises.
	NodesGroup = "system:nodes"

	// AWSNodeName is the VPC CNI's ServiceAccount in kube-system, created by EKS;
	// AWSNodeDaemonSet its DaemonSet, whose pods carry the label AWSNodeSelector selects.
	AWSNodeName      = "aws-node"
	AWSNodeDaemonSet = AWSNodeName
	AWSNodeSelector  = "k8s-app=" + AWSNodeName

	// FieldManager is the server-side apply field manager of everything written through
	// Providers.Apply: aws-auth and the patches.
	FieldManager = "eks-irsa"
	// CreateFieldManager is the field manager of the objects created through Providers.Create:
	// without server-side apply the provider always writes as this one.
	CreateFieldManager = "pulumi-kubernetes"
	// RestartAnnotation is the pod-template annotation whose value, RestartToken(roleARN),
	// rolls a DaemonSet's pods when its service account's role changes.
	RestartAnnotation = "eks-irsa.github.com/role-arn-sha256"

	// PatchFieldManagerAnnotation and PatchForceAnnotation are read by the Kubernetes provider
	// on every server-side apply (not only on *Patch resources): the first names the field
	// manager, the second forces the apply over other managers' fields.
	PatchFieldManagerAnnotation = "pulumi.com/patchFieldManager"
	PatchForceAnnotation        = "pulumi.com/patchForce"
)

// Component type tokens, as first deployed. A component's type is part of every child's URN,
// so renaming one would make Pulumi replace aws-auth and the bindings' objects: the Go names
// changed (AWSAuth, ServiceAccountBinding), the tokens stay.
const (
	AWSAuthType               = "eksirsa:k8s:AwsAuth"
	ServiceAccountBindingType = "eksirsa:k8s:ServiceAccountRole"
)
