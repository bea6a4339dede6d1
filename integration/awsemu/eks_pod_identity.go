package awsemu

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// EKS Pod Identity associations, as terraform-provider-aws
// internal/service/eks/pod_identity_association.go makes them, against moto's association API
// (integration/moto/eks_pod_identity.py).

func init() {
	register(&Kind{
		Token:  "aws:eks/podIdentityAssociation:PodIdentityAssociation",
		Schema: podIdentityAssociationSchema,
		Create: createPodIdentityAssociation,
		Read:   readPodIdentityAssociation,
		Update: updatePodIdentityAssociation,
		Delete: deletePodIdentityAssociation,
	})
}

// podIdentityKey is the resource's two-part key. The id is the association id alone
// (pod_identity_association.go Create: data.ID = data.AssociationID); the cluster comes from
// the state, or, for an import, from the id "cluster-name,association-id" (ImportState).
func podIdentityKey(id string, olds resource.PropertyMap) (cluster, association string, err error) {
	if c, a, ok := strings.Cut(id, ","); ok {
		if c == "" || a == "" {
			return "", "", fmt.Errorf("wrong format of import ID (%s), use: 'cluster-name,association-id'", id)
		}
		return c, a, nil
	}
	if cluster = getStr(olds, "clusterName"); cluster == "" {
		return "", "", fmt.Errorf("EKS Pod Identity Association (%s): no cluster_name in the state; import it as 'cluster-name,association-id'", id)
	}
	return cluster, id, nil
}

func createPodIdentityAssociation(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	in := &eks.CreatePodIdentityAssociationInput{
		ClusterName:    aws.String(getStr(news, "clusterName")),
		Namespace:      aws.String(getStr(news, "namespace")),
		ServiceAccount: aws.String(getStr(news, "serviceAccount")),
		RoleArn:        aws.String(getStr(news, "roleArn")),
	}
	if tags := getStrMap(news, "tags"); len(tags) > 0 {
		in.Tags = tags
	}
	// Upstream retries "Role provided in the request does not exist" for IAM's eventual
	// consistency (propagationTimeout); moto is consistent at once, so one call is the same.
	out, err := c.EKS.CreatePodIdentityAssociation(ctx, in)
	if err != nil {
		return "", nil, fmt.Errorf("creating EKS Pod Identity Association: %w", err)
	}
	id := aws.ToString(out.Association.AssociationId)
	outs, err := readPodIdentityAssociation(ctx, c, id, news)
	return id, outs, err
}

func readPodIdentityAssociation(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	cluster, association, err := podIdentityKey(id, olds)
	if err != nil {
		return nil, err
	}
	out, err := c.EKS.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(cluster), AssociationId: aws.String(association)})
	if isEKSNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading EKS Pod Identity Association (%s): %w", id, err)
	}
	a := out.Association
	outs := outMap(map[string]any{
		"associationArn": aws.ToString(a.AssociationArn),
		"associationId":  aws.ToString(a.AssociationId),
		"clusterName":    aws.ToString(a.ClusterName),
		"namespace":      aws.ToString(a.Namespace),
		"roleArn":        aws.ToString(a.RoleArn),
		"serviceAccount": aws.ToString(a.ServiceAccount),
	})
	tagsOutputs(outs, a.Tags)
	return withInputs(outs, olds), nil
}

// updatePodIdentityAssociation: pod_identity_association.go Update calls
// UpdatePodIdentityAssociation when the role changed; tags through the tagging API
// (@Tags(identifierAttribute="association_arn")).
func updatePodIdentityAssociation(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	cluster, association, err := podIdentityKey(id, olds)
	if err != nil {
		return nil, err
	}
	if role := getStr(news, "roleArn"); role != getStr(olds, "roleArn") {
		if _, err := c.EKS.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
			AssociationId: aws.String(association), RoleArn: aws.String(role)}); err != nil {
			return nil, fmt.Errorf("updating EKS Pod Identity Association (%s): %w", id, err)
		}
	}
	if err := updateEKSTags(ctx, c, "EKS Pod Identity Association ("+id+")", stateARN(olds, "associationArn"), olds, news); err != nil {
		return nil, err
	}
	return readPodIdentityAssociation(ctx, c, id, news)
}

func deletePodIdentityAssociation(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error {
	cluster, association, err := podIdentityKey(id, olds)
	if err != nil {
		return err
	}
	_, err = c.EKS.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String(cluster), AssociationId: aws.String(association)})
	if isEKSNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting EKS Pod Identity Association (%s): %w", id, err)
	}
	return nil
}
