package stack

import (
	"maps"
	"strings"
	"testing"
)

func TestLoadStackFiles(t *testing.T) {
	cfg, err := LoadStackFiles("testdata/project", "test")
	if err != nil {
		t.Fatalf("LoadStackFiles: %v", err)
	}
	want := map[string]string{
		"aws:region":           "us-west-2",                                // project value, other namespace
		"eks-irsa:environment": "test",                                     // stack over project default
		"eks-irsa:nodes":       `{"desired":2,"instanceType":"t3.medium"}`, // object default as JSON
		"eks-irsa:tags":        `{"team":"platform"}`,                      // stack object as JSON
		"eks-irsa:token":       SecretPlaceholder,                          // never decrypted offline
	}
	if !maps.Equal(cfg, want) {
		t.Errorf("config\n%v\nwant\n%v", cfg, want)
	}

	if _, err := LoadStackFiles("testdata/project", "prod"); err == nil || !strings.Contains(err.Error(), "stack prod:") {
		t.Errorf("LoadStackFiles of a stack without a file = %v, want an error naming it", err)
	}
	if _, err := LoadStackFiles(t.TempDir(), "test"); err == nil || !strings.Contains(err.Error(), "load project") {
		t.Errorf("LoadStackFiles without Pulumi.yaml = %v, want a project error", err)
	}
}
