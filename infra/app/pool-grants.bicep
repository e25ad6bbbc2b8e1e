// What the app's identity needs, beyond its role on the Batch account, to create managed pools that
// carry a user-assigned identity or join a subnet: Batch creates pools through the management plane (ARM),
// and ARM checks the caller's right to every resource a pool links to.
// - each identity the operator lets tenants use (poolIdentityIds): Managed Identity Operator, for
//   Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action;
// - each subnet (poolSubnetIds): a custom role with only Microsoft.Network/virtualNetworks/subnets/join/action
//   and subnets/read, defined here when there is a subnet. Network Contributor would also do, but it lets its
//   holder rewrite or delete the subnet (its NSG, route table, delegations): far more than joining it.
// The identities and subnets may live in other resource groups (identities in other subscriptions too), so
// each grant is a module scoped to the resource group its id names. test/deploy/role-actions.test.ts checks
// the roles against the provider operations.
targetScope = 'subscription'

param appPrincipalId string
@description('User-assigned identity resource ids, lower case, without duplicates.')
param poolIdentityIds array = []
@description('Subnet resource ids, lower case, without duplicates; Batch takes only subnets in the Batch account\'s subscription and region.')
param poolSubnetIds array = []
@description('Makes the custom role\'s name unique in the directory (role names are tenant-wide).')
param roleNameSuffix string

var subnetJoinRoleName = guid(subscription().id, 'slotwise-pool-subnet-join', roleNameSuffix)

// A role definition may be assigned only within its assignable scopes: this subscription, where Batch
// requires the virtual network to be (the Batch account's subscription).
resource subnetJoinRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(poolSubnetIds)) {
  name: subnetJoinRoleName
  properties: {
    roleName: 'Slotwise pool subnet join (${roleNameSuffix})'
    description: 'Lets Slotwise create Batch pools whose nodes join the subnet: join and read the subnet, nothing else.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.Network/virtualNetworks/subnets/join/action'
          'Microsoft.Network/virtualNetworks/subnets/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}
module identityGrants 'pool-identity-grant.bicep' = [for id in poolIdentityIds: {
  name: 'pool-identity-${uniqueString(id, appPrincipalId)}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    identityName: split(id, '/')[8]
    appPrincipalId: appPrincipalId
  }
}]

// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}
module subnetGrants 'pool-subnet-grant.bicep' = [for id in poolSubnetIds: {
  name: 'pool-subnet-${uniqueString(id, appPrincipalId)}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    virtualNetworkName: split(id, '/')[8]
    subnetName: split(id, '/')[10]
    appPrincipalId: appPrincipalId
    subnetJoinRoleName: subnetJoinRoleName
  }
  dependsOn: [subnetJoinRole]
}]
