package testcluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/podidentity"
)

// The rest of what the EKS pod identity webhook (github.com/aws/amazon-eks-pod-identity-webhook,
// pkg/handler) writes into a pod; the protocol strings themselves come from package irsa.
const (
	IRSAVolume       = "aws-iam-token"
	IRSARegion       = "us-west-2"
	irsaTokenPath    = "token" // irsa.TokenFile is irsa.TokenDir + "/" + this
	irsaWebhookName  = "iam-for-pods.amazonaws.com"
	irsaTokenSeconds = 86400
)

// StartPodIdentityWebhook serves a mutating admission webhook that does what EKS's pod
// identity webhook does at pod creation: for a service account annotated with a role ARN it
// injects AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the region variables into every
// container and mounts a projected service-account token for sts.amazonaws.com. As on EKS,
// only pods created after the annotation get them, which is why aws-node must be restarted.
// The webhook is registered with failurePolicy Ignore, as EKS registers it.
func (c *Cluster) StartPodIdentityWebhook(t testing.TB) {
	t.Helper()
	certPEM, keyPEM, err := c.ca.serving("pod-identity-webhook")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(c.mutatePod),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		if err := srv.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("testcluster: pod identity webhook: %v", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })

	url := fmt.Sprintf("https://%s/mutate", l.Addr())
	ignore := admissionregistrationv1.Ignore
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	_, err = c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(t.Context(),
		&admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-identity-webhook"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name:                    irsaWebhookName,
				ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: c.CAData},
				FailurePolicy:           &ignore,
				SideEffects:             &none,
				TimeoutSeconds:          &timeout,
				AdmissionReviewVersions: []string{"v1"},
				Rules: []admissionregistrationv1.RuleWithOperations{{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule: admissionregistrationv1.Rule{
						APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
					},
				}},
			}},
		}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testcluster: register pod identity webhook: %v", err)
	}
}

func (c *Cluster) mutatePod(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err == nil {
		err = json.Unmarshal(body, &review)
	}
	if err != nil || review.Request == nil {
		http.Error(w, fmt.Sprintf("bad admission review: %v", err), http.StatusBadRequest)
		return
	}
	resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	if patch, err := c.irsaPatch(r.Context(), review.Request); err != nil {
		resp.Result = &metav1.Status{Message: err.Error()}
	} else if patch != nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	review.Response, review.Request = resp, nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

// irsaPatch returns the JSON patch for a pod, or nil when its account has no role.
func (c *Cluster) irsaPatch(ctx context.Context, req *admissionv1.AdmissionRequest) ([]byte, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return nil, err
	}
	account := pod.Spec.ServiceAccountName
	if account == "" {
		account = "default"
	}
	sa, err := c.Client.CoreV1().ServiceAccounts(req.Namespace).Get(ctx, account, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	role := sa.Annotations[irsa.RoleARNAnnotation]
	associated := false
	if c.Associated != nil {
		if associated, err = c.Associated(ctx, req.Namespace, account); err != nil {
			return nil, err
		}
	}
	if role == "" && !associated {
		return nil, nil
	}
	spec := pod.Spec
	if associated {
		agent := PodIdentityAgentURI
		if c.PodIdentityAgentURL != "" {
			agent = c.PodIdentityAgentURL
		}
		podIdentityInject(&spec, agent)
	}
	if role == "" {
		return json.Marshal([]map[string]any{{"op": "replace", "path": "/spec", "value": spec}})
	}
	expiration := int64(irsaTokenSeconds)
	spec.Volumes = append(spec.Volumes, corev1.Volume{
		Name: IRSAVolume,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience: irsa.Audience, ExpirationSeconds: &expiration, Path: irsaTokenPath,
			}}},
		}},
	})
	env := []corev1.EnvVar{
		{Name: "AWS_STS_REGIONAL_ENDPOINTS", Value: "regional"},
		{Name: "AWS_DEFAULT_REGION", Value: IRSARegion},
		{Name: "AWS_REGION", Value: IRSARegion},
		{Name: irsa.EnvRoleARN, Value: role},
		{Name: irsa.EnvTokenFile, Value: irsa.TokenFile},
	}
	mount := corev1.VolumeMount{Name: IRSAVolume, MountPath: irsa.TokenDir, ReadOnly: true}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			cs[i].Env = append(cs[i].Env, env...)
			cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
		}
	}
	return json.Marshal([]map[string]any{{"op": "replace", "path": "/spec", "value": spec}})
}

// What EKS's pod identity webhook writes into a pod whose account has an association (EKS User
// Guide, pod-id-how-it-works: "AWS_CONTAINER_CREDENTIALS_FULL_URI" set to the agent's
// http://169.254.170.23/v1/credentials and "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" to
// /var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token, a projected
// token with audience pods.eks.amazonaws.com). It sets them beside IRSA's when the account is
// also annotated: the SDKs then take IRSA.
const (
	PodIdentityVolume      = "eks-pod-identity-token"
	podIdentityTokenDir    = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
	podIdentityTokenPath   = "eks-pod-identity-token"
	PodIdentityAudience    = "pods.eks.amazonaws.com"
	PodIdentityAgentURI    = "http://169.254.170.23/v1/credentials"
	podIdentityTokenSecond = 86400
)

func podIdentityInject(spec *corev1.PodSpec, agent string) {
	expiration := int64(podIdentityTokenSecond)
	spec.Volumes = append(spec.Volumes, corev1.Volume{
		Name: PodIdentityVolume,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience: PodIdentityAudience, ExpirationSeconds: &expiration, Path: podIdentityTokenPath,
			}}},
		}},
	})
	env := []corev1.EnvVar{
		{Name: podidentity.EnvCredentialsFullURI, Value: agent},
		{Name: podidentity.EnvAuthorizationTokenFile, Value: podIdentityTokenDir + "/" + podIdentityTokenPath},
	}
	mount := corev1.VolumeMount{Name: PodIdentityVolume, MountPath: podIdentityTokenDir, ReadOnly: true}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			cs[i].Env = append(cs[i].Env, env...)
			cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
		}
	}
}
