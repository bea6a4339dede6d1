package k8s

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/irsa"
)

// ServiceAccountMode says who owns the ServiceAccount an IRSA role is bound to. The values
// are the words config uses.
type ServiceAccountMode string

const (
	// AnnotateServiceAccount patches the role annotation onto an account someone else owns
	// (EKS's kube-system/aws-node, a Helm chart's account). Destroy removes the annotation and
	// leaves the account.
	AnnotateServiceAccount ServiceAccountMode = "annotate"
	// CreateServiceAccount creates the account with the annotation; destroy deletes it. An
	// account that already exists fails the update and is left untouched.
	CreateServiceAccount ServiceAccountMode = "create"
	// NoServiceAccount touches nothing in the cluster: whoever creates the account (a chart
	// with its own serviceAccount.annotations) is given the role ARN.
	NoServiceAccount ServiceAccountMode = "none"
)

// serviceAccountModes lists the accepted modes, in the order errors name them.
var serviceAccountModes = []ServiceAccountMode{AnnotateServiceAccount, CreateServiceAccount, NoServiceAccount}

// clusterNamespaces exist in every cluster; creating one would make destroy delete it.
var clusterNamespaces = []string{"default", KubeSystemNamespace, "kube-public", "kube-node-lease"}

// eksAccounts are the kube-system accounts EKS creates. A create would be an upsert of EKS's
// object, and destroy would then delete it.
var eksAccounts = []string{AWSNodeName, "coredns", "kube-proxy"}

// ServiceAccountBindingArgs binds an IRSA role to Namespace/ServiceAccount.
type ServiceAccountBindingArgs struct {
	// Provider is Providers.Apply: it patches the account (annotate) and the DaemonSet.
	Provider *kubernetes.Provider
	// CreateProvider is Providers.Create: it creates the account (Mode create) and the
	// namespace (CreateNamespace), failing on one that already exists. Required when either
	// is created.
	CreateProvider *kubernetes.Provider
	// Cluster ties every object to the cluster it lives in (see ClusterInstance). NewLayer
	// always sets it; nil (a component used alone, on a cluster that is never replaced and
	// never deleted with the stack) ties nothing.
	Cluster        *ClusterInstance
	Namespace      string
	ServiceAccount string
	RoleARN        pulumi.StringInput
	Mode           ServiceAccountMode
	// CreateNamespace creates Namespace (owned: destroy deletes it). Only with
	// CreateServiceAccount, and never for the namespaces every cluster has.
	CreateNamespace bool
	// RestartDaemonSet names a DaemonSet in Namespace (e.g. "aws-node") whose pods run as the
	// account and must restart to pick up a changed role. Empty: nothing is restarted.
	RestartDaemonSet string
}

// ServiceAccountBinding is an IRSA role bound to a service account. The child fields are nil
// when the mode or args do not call for them; Resources lists the ones that exist.
type ServiceAccountBinding struct {
	pulumi.ResourceState

	// RoleARN is the annotated role; "" for an account kept with none.
	RoleARN pulumi.StringOutput

	Namespace           *corev1.Namespace           // CreateNamespace
	ServiceAccount      *corev1.ServiceAccount      // CreateServiceAccount
	ServiceAccountPatch *corev1.ServiceAccountPatch // AnnotateServiceAccount
	Restart             *appsv1.DaemonSetPatch      // RestartDaemonSet
}

// Resources returns the Kubernetes objects the binding created, for DependsOn: worker
// capacity waits for the annotation and the restart.
func (c *ServiceAccountBinding) Resources() []pulumi.Resource {
	var out []pulumi.Resource
	if c.Namespace != nil {
		out = append(out, c.Namespace)
	}
	if c.ServiceAccount != nil {
		out = append(out, c.ServiceAccount)
	}
	if c.ServiceAccountPatch != nil {
		out = append(out, c.ServiceAccountPatch)
	}
	if c.Restart != nil {
		out = append(out, c.Restart)
	}
	return out
}

// RestartToken is the pod-template annotation value for a role: a digest of the ARN, so it
// changes exactly when the role does.
func RestartToken(roleARN string) string {
	sum := sha256.Sum256([]byte(roleARN))
	return hex.EncodeToString(sum[:])[:16]
}

// creates reports whether the args create an object (and so need CreateProvider).
func (a *ServiceAccountBindingArgs) creates() bool {
	return a.Mode == CreateServiceAccount || a.CreateNamespace
}

func (a *ServiceAccountBindingArgs) validate() error {
	if a == nil {
		return errors.New("args: required")
	}
	var v validator
	v.provider("Provider", "Apply", a.Provider)
	if a.creates() {
		v.provider("CreateProvider", "Create", a.CreateProvider)
		if a.CreateProvider != nil && a.CreateProvider == a.Provider {
			v.addf("CreateProvider", "is Provider (server-side apply would take over an existing account); pass Providers.Create")
		}
	}
	v.dnsLabel("Namespace", a.Namespace)
	v.dnsSubdomain("ServiceAccount", a.ServiceAccount)
	switch {
	case a.RoleARN == nil && a.Mode == CreateServiceAccount:
		// An account kept with no annotation (see Binding).
		if a.RestartDaemonSet != "" {
			v.addf("RestartDaemonSet", "needs a RoleARN: without one nothing changes the account its pods read")
		}
	default:
		v.roleARN("RoleARN", a.RoleARN)
	}
	if !slices.Contains(serviceAccountModes, a.Mode) {
		v.addf("Mode", "%q is not one of %q", a.Mode, serviceAccountModes)
	}
	if a.Mode == CreateServiceAccount && a.Namespace == KubeSystemNamespace && slices.Contains(eksAccounts, a.ServiceAccount) {
		v.addf("Mode", "EKS owns %s/%s and destroy would delete it; use %q", a.Namespace, a.ServiceAccount, AnnotateServiceAccount)
	}
	if a.CreateNamespace {
		if a.Mode != CreateServiceAccount {
			v.addf("CreateNamespace", "only with Mode %q: a namespace is created for an account we create", CreateServiceAccount)
		}
		if slices.Contains(clusterNamespaces, a.Namespace) {
			v.addf("CreateNamespace", "%q exists in every cluster and destroy would delete it; leave CreateNamespace false", a.Namespace)
		}
	}
	if a.RestartDaemonSet != "" {
		v.dnsSubdomain("RestartDaemonSet", a.RestartDaemonSet)
		if a.Mode == NoServiceAccount {
			v.addf("RestartDaemonSet", "needs Mode %q or %q: with %q nothing here changes the account its pods read",
				AnnotateServiceAccount, CreateServiceAccount, NoServiceAccount)
		}
	}
	return errors.Join(v.errs...)
}

// NewServiceAccountBinding annotates (or creates) the service account with the role ARN and, if
// asked, rolls the DaemonSet whose pods use it.
func NewServiceAccountBinding(ctx *pulumi.Context, name string, args *ServiceAccountBindingArgs, opts ...pulumi.ResourceOption) (*ServiceAccountBinding, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("service account role %s: %w", name, err)
	}
	c := &ServiceAccountBinding{RoleARN: pulumi.String("").ToStringOutput()}
	var annotations pulumi.StringMap // a created account's; none without a role
	if args.RoleARN != nil {
		c.RoleARN = args.RoleARN.ToStringOutput()
		annotations = pulumi.StringMap{irsa.RoleARNAnnotation: args.RoleARN}
	}
	if err := ctx.RegisterComponentResource(ServiceAccountBindingType, name, c, opts...); err != nil {
		return nil, fmt.Errorf("service account role %s: register component: %w", name, err)
	}
	// Objects we create go through args.CreateProvider, so an existing one fails instead of
	// being adopted; patches of objects others own go through args.Provider.
	child := func(p *kubernetes.Provider, extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
		o := append([]pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(p), pulumi.DeleteBeforeReplace(true)}, args.Cluster.options()...)
		return append(o, extra...)
	}
	// managed names our field manager on a patch. Created objects do not carry it: without
	// server-side apply the provider writes as CreateFieldManager whatever it says.
	managed := func() pulumi.StringMap {
		return pulumi.StringMap{PatchFieldManagerAnnotation: pulumi.String(FieldManager)}
	}
	withRole := func() pulumi.StringMap {
		m := managed()
		m[irsa.RoleARNAnnotation] = args.RoleARN
		return m
	}

	var accountDeps []pulumi.Resource
	if args.CreateNamespace {
		ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace)},
		}, child(args.CreateProvider)...)
		if err != nil {
			return nil, fmt.Errorf("service account role %s: create namespace: %w", name, err)
		}
		c.Namespace = ns
		accountDeps = append(accountDeps, ns)
	}

	var account pulumi.Resource
	switch args.Mode {
	case CreateServiceAccount:
		sa, err := corev1.NewServiceAccount(ctx, name+"-service-account", &corev1.ServiceAccountArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:        pulumi.String(args.ServiceAccount),
				Namespace:   pulumi.String(args.Namespace),
				Annotations: annotations,
			},
		}, child(args.CreateProvider, pulumi.DependsOn(accountDeps))...)
		if err != nil {
			return nil, fmt.Errorf("service account role %s: create service account: %w", name, err)
		}
		c.ServiceAccount, account = sa, sa
	case AnnotateServiceAccount:
		patch, err := corev1.NewServiceAccountPatch(ctx, name+"-service-account", &corev1.ServiceAccountPatchArgs{
			Metadata: &metav1.ObjectMetaPatchArgs{
				Name:        pulumi.String(args.ServiceAccount),
				Namespace:   pulumi.String(args.Namespace),
				Annotations: withRole(),
			},
		}, child(args.Provider)...)
		if err != nil {
			return nil, fmt.Errorf("service account role %s: annotate service account: %w", name, err)
		}
		c.ServiceAccountPatch, account = patch, patch
	}

	if args.RestartDaemonSet != "" {
		token := c.RoleARN.ApplyT(RestartToken).(pulumi.StringOutput)
		restart, err := appsv1.NewDaemonSetPatch(ctx, name+"-restart", &appsv1.DaemonSetPatchArgs{
			Metadata: &metav1.ObjectMetaPatchArgs{
				Name:        pulumi.String(args.RestartDaemonSet),
				Namespace:   pulumi.String(args.Namespace),
				Annotations: managed(),
			},
			Spec: &appsv1.DaemonSetSpecPatchArgs{
				Template: &corev1.PodTemplateSpecPatchArgs{
					Metadata: &metav1.ObjectMetaPatchArgs{
						Annotations: pulumi.StringMap{RestartAnnotation: token},
					},
				},
			},
		}, child(args.Provider, pulumi.DependsOn([]pulumi.Resource{account}))...)
		if err != nil {
			return nil, fmt.Errorf("service account role %s: restart daemonset %s: %w", name, args.RestartDaemonSet, err)
		}
		c.Restart = restart
	}

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"roleArn": c.RoleARN}); err != nil {
		return nil, fmt.Errorf("service account role %s: register outputs: %w", name, err)
	}
	return c, nil
}

// alreadyExists matches the API server's answer to a create of an existing account or
// namespace, as the provider passes it on.
var alreadyExists = regexp.MustCompile(`(serviceaccounts|namespaces) "([^"]+)" already exists`)

// ExplainExistingObject adds the way out to an update that failed because an account or
// namespace the args create already exists; other errors are returned unchanged. The
// provider's message names the object but not what to do.
func ExplainExistingObject(err error) error {
	if err == nil {
		return nil
	}
	m := alreadyExists.FindStringSubmatch(err.Error())
	if m == nil || !strings.Contains(err.Error(), "was not successfully created") {
		return err
	}
	help := fmt.Sprintf(ExistingAccountHelp, m[2])
	if m[1] == "namespaces" {
		help = fmt.Sprintf(ExistingNamespaceHelp, m[2])
	}
	return fmt.Errorf("%w\n\n%s", err, help)
}

// ExistingAccountHelp and ExistingNamespaceHelp say how to proceed when an account or
// namespace to be created already exists (%q is its name). Nothing was changed.
const (
	ExistingAccountHelp = "The service account %q already exists and eks-irsa did not create it, so it was left untouched " +
		"(had eks-irsa taken it over, destroy would delete it). If another tool owns it (a Helm chart), set that role's " +
		`account to "annotate": eks-irsa then adds only the role annotation and leaves the account on destroy. ` +
		"If eks-irsa created it in an interrupted update, import it into the stack instead of deleting it."
	ExistingNamespaceHelp = "The namespace %q already exists and eks-irsa did not create it, so it was left untouched " +
		"(had eks-irsa taken it over, destroy would delete it and everything in it). Set that role's createNamespace " +
		"to false: the account is then created in the existing namespace."
)
