package moto

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// amiArchitectures maps the architecture in the EKS AMI parameter's path to EC2's name for it.
var amiArchitectures = map[string]ec2types.ArchitectureValues{
	"x86_64": ec2types.ArchitectureValuesX8664,
	"arm64":  ec2types.ArchitectureValuesArm64,
}

// amiParameterNames are AWS's documented parameter names (eks_ami_parameters.txt).
//
//go:embed eks_ami_parameters.txt
var amiParameterNames string

// documentedAMIParameters are the documented names for version, by architecture.
func documentedAMIParameters(version string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(amiParameterNames, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		arch, name, _ := strings.Cut(line, " ")
		out[arch] = append(out[arch], strings.ReplaceAll(strings.TrimSpace(name), "{version}", version))
	}
	return out
}

// SeedEKSAMIParameters makes moto serve, in region (Server.Region if empty), the public SSM
// parameters AWS publishes for the EKS-optimized Amazon Linux 2023 AMI (eks_ami_parameters.txt)
// for each Kubernetes version and both architectures. moto has none,
// and refuses PutParameter under /aws/ as AWS does, so they go to the file sitecustomize.py
// loads them from; each is then read back through the SSM API. Each points at an Amazon
// Linux 2023 image of that architecture that moto's EC2 lists in that region, so a launch
// template and an ASG built from it find the image. It returns the names and values.
func (s *Server) SeedEKSAMIParameters(ctx context.Context, region string, versions ...string) (map[string]string, error) {
	cfg := s.Config(region)
	ec2c := ec2.NewFromConfig(cfg)
	ssmc := ssm.NewFromConfig(cfg)
	seeded := map[string]string{}
	for arch, ec2Arch := range amiArchitectures {
		out, err := ec2c.DescribeImages(ctx, &ec2.DescribeImagesInput{
			Owners: []string{"amazon"},
			Filters: []ec2types.Filter{
				{Name: aws.String("name"), Values: []string{"al2023-ami-2023.*"}},
				{Name: aws.String("architecture"), Values: []string{string(ec2Arch)}},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("moto: describe Amazon Linux 2023 %s images in %s: %w", arch, cfg.Region, err)
		}
		if len(out.Images) == 0 {
			return nil, fmt.Errorf("moto: no Amazon Linux 2023 %s image in %s to seed the EKS AMI parameter with", arch, cfg.Region)
		}
		ids := make([]string, 0, len(out.Images))
		for _, im := range out.Images {
			ids = append(ids, aws.ToString(im.ImageId))
		}
		sort.Strings(ids) // the same image every run
		for _, v := range versions {
			for _, name := range documentedAMIParameters(v)[arch] {
				seeded[name] = ids[0]
			}
		}
	}
	if err := s.addPublicParameters(cfg.Region, seeded); err != nil {
		return nil, err
	}
	for name, want := range seeded {
		out, err := ssmc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("moto: read back seeded parameter %s (is %s's sitecustomize.py loaded?): %w", name, Binary, err)
		}
		if got := aws.ToString(out.Parameter.Value); got != want {
			return nil, fmt.Errorf("moto: seeded parameter %s reads %q, want %q", name, got, want)
		}
	}
	return seeded, nil
}

// addPublicParameters merges params into the region's entry of the seeded-parameters file.
func (s *Server) addPublicParameters(region string, params map[string]string) error {
	s.paramsMu.Lock()
	defer s.paramsMu.Unlock()
	all := map[string]map[string]string{}
	data, err := os.ReadFile(s.paramsPath)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &all); err != nil {
			return fmt.Errorf("moto: %s: %w", s.paramsPath, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if all[region] == nil {
		all[region] = map[string]string{}
	}
	for k, v := range params {
		all[region][k] = v
	}
	data, err = json.Marshal(all)
	if err != nil {
		return err
	}
	// Write then rename: moto reads the file on every lookup under /aws/service/eks/.
	tmp := s.paramsPath + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.paramsPath)
}
